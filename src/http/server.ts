import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Body, ServingMode } from '../serving/mode.js';
import type { RequestRecorder, RequestRoute } from '../telemetry/recorder.js';
import { prefersTextPlain } from './accept.js';
import type { Principal, TokenGuard } from './auth.js';
import { createListener, hostCount } from './listener.js';
import { errorSummary, send, sendError, sendJson } from './respond.js';
import { allowedMethods, matchRoute, methodAllowed } from './routes.js';

export interface ServerOptions {
  readonly port: number;
  readonly maxConnections: number;
  readonly mode: ServingMode;
  readonly guard: TokenGuard;
  readonly log: Logger;
  /** Request counting (only with the operations listener configured). */
  readonly metrics?: RequestRecorder | undefined;
  /** `POST /v1/refresh` (SPEC §10.5): the answer's body, or an ApiError (429 rate limit, a failed refresh). */
  readonly refresh?: ((principal: Principal) => Promise<Record<string, unknown>>) | undefined;
}

export interface RunningServer {
  readonly port: number;
  readonly url: string;
  /** Stop accepting, let in-flight requests finish (bounded), then close every socket. */
  close(): Promise<void>;
}

/** Listen on 127.0.0.1 only — never 0.0.0.0 (SPEC §5.1). */
export const LISTEN_HOST = '127.0.0.1';

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  let port = o.port;
  const rec = o.metrics;
  const listener = createListener(o.maxConnections, (req, res) => {
    const internal = (err: unknown): void => {
      o.log.error({ event: 'request.failed', err: errorSummary(err) }, 'unexpected error while answering a request');
      if (!res.headersSent) send(req, res, 500, 'application/json', Buffer.from('{"error":"internal error","reason":"internal"}'));
      else res.destroy();
    };
    // Counted when the response is done (or abandoned), with the route the gates matched: one
    // small object per request, and only when metrics are on.
    let seen: Seen | undefined;
    if (rec !== undefined) {
      const s: Seen = { route: 'unmatched', start: performance.now() };
      seen = s;
      res.once('close', () => {
        const seconds = (performance.now() - s.start) / 1000;
        rec.request(s.route, res.statusCode, seconds);
        if (s.token !== undefined) rec.authenticated?.(s.route, s.token, res.statusCode);
      });
    }
    try {
      const pending = handle(req, res, listener.open(), port, o, seen);
      if (pending) pending.catch(internal);
    } catch (err) {
      internal(err);
    }
  });
  port = await listener.listen(o.port, LISTEN_HOST);
  return { port, url: `http://${LISTEN_HOST}:${port}`, close: () => listener.close() };
}

/** What the request counter needs from the gates: the route they matched, and when the request came. */
interface Seen {
  route: RequestRoute;
  readonly start: number;
  /** The authenticated token's name (`main` or a scoped token's), once the token gate passed. */
  token?: string;
}

/**
 * The fixed gate order of SPEC §5: connections → proxy → Host → route → method → token → state.
 * Synchronous unless the mode must wait, so a cached answer costs no promise.
 */
function handle(req: IncomingMessage, res: ServerResponse, open: number, port: number, o: ServerOptions, seen: Seen | undefined): void | Promise<void> {
  if (open > o.maxConnections) {
    o.metrics?.rejected('too_many_connections');
    return sendError(req, res, new ApiError('too_many_connections', { headers: { Connection: 'close' } }));
  }
  if (req.headers['x-forwarded-for'] !== undefined || req.headers['forwarded'] !== undefined) return sendError(req, res, new ApiError('proxied_request'));
  if (hostCount(req.rawHeaders) > 1) return sendError(req, res, new ApiError('invalid_host'));
  if (!hostAllowed(req.headers.host, port)) return sendError(req, res, new ApiError('forbidden_host'));
  const route = matchRoute(req.url ?? '/');
  if (!route) return sendError(req, res, new ApiError('not_found'));
  if (seen) seen.route = route.name;
  if (!methodAllowed(route, req.method)) return sendError(req, res, new ApiError('method_not_allowed', { headers: { Allow: allowedMethods(route) } }));
  const principal = route.auth ? o.guard.authenticate(req.headers.authorization) : undefined;
  if (route.auth && principal === undefined) return sendError(req, res, new ApiError('unauthorized', { headers: { 'WWW-Authenticate': 'Bearer' } }));
  if (seen && principal) seen.token = principal.name;
  let body: Body | Promise<Body>;
  // The modes answer within the principal's scope: a scoped token (SPEC §10.3) sees only its
  // namespaces, the main token everything.
  try {
    switch (route.name) {
      case 'health':
        return sendJson(req, res, 200, o.mode.health());
      case 'ready': {
        const r = o.mode.ready();
        return sendJson(req, res, r.ready ? 200 : 503, r);
      }
      case 'secrets':
        body = o.mode.secrets(principal);
        break;
      case 'keys':
        body = o.mode.keys(principal);
        break;
      case 'secret':
        body = o.mode.secret(route.key ?? '', { plain: prefersTextPlain(req.headers.accept), scope: principal });
        break;
      case 'refresh': {
        if (o.refresh === undefined || principal === undefined) return sendError(req, res, new ApiError('not_found'));
        return o.refresh(principal).then(
          (answer) => sendJson(req, res, 200, answer),
          (err: unknown) => sendErrorOrThrow(req, res, err),
        );
      }
    }
  } catch (err) {
    return sendErrorOrThrow(req, res, err);
  }
  if (body instanceof Promise) {
    return body.then(
      (b) => sendBody(req, res, b),
      (err: unknown) => sendErrorOrThrow(req, res, err),
    );
  }
  return sendBody(req, res, body);
}

/** An ApiError is an answer; anything else is a bug for the request handler to report. */
function sendErrorOrThrow(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  if (err instanceof ApiError) return sendError(req, res, err);
  throw err;
}

/** `127.0.0.1`, `localhost`, optionally with our port. Anything else may be DNS rebinding. */
function hostAllowed(host: string | undefined, port: number): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase();
  return h === '127.0.0.1' || h === 'localhost' || h === `127.0.0.1:${port}` || h === `localhost:${port}`;
}

function sendBody(req: IncomingMessage, res: ServerResponse, body: Body): void {
  if (body.release) {
    const release = body.release;
    // The client went away while the body was being made (a JIT decryption, a request-triggered
    // refresh): 'close' has already fired and would never call `release`, leaving the body unwiped.
    if (res.destroyed) {
      release();
      return;
    }
    // 'close' follows 'finish' for a completed response and also fires for an aborted one.
    res.once('close', release);
  }
  send(req, res, 200, body.contentType, body.bytes);
}
