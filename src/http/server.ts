import type { IncomingMessage, ServerResponse } from 'node:http';
import { performance } from 'node:perf_hooks';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ServingMode } from '../serving/mode.js';
import type { RequestRecorder, RequestRoute } from '../telemetry/recorder.js';
import { prefersTextPlain } from './accept.js';
import type { Principal, TokenGuard } from './auth.js';
import { createListener, hostCount, type ConnectionCount, type Listener } from './listener.js';
import type { ChangeNotifier } from './notify.js';
import { errorSummary, send, sendError, sendJson } from './respond.js';
import { allowedMethods, matchRoute, methodAllowed } from './routes.js';
import { bindUnixSocket, type BoundSocket, type SocketSpec } from './unix-socket.js';

export interface ServerOptions {
  /** `off`: no TCP listener (then `socket` is set). */
  readonly port: number | 'off';
  /** Also serve on this Unix domain socket (SPEC §10.4): same gates, same handler. */
  readonly socket?: SocketSpec | undefined;
  readonly maxConnections: number;
  readonly mode: ServingMode;
  readonly guard: TokenGuard;
  readonly log: Logger;
  /** ETags, conditional requests and long polls of the secrets routes; one per agent, shared by its listeners. */
  readonly notify: ChangeNotifier;
  /** Request counting (only with the operations listener configured). */
  readonly metrics?: RequestRecorder | undefined;
  /** `POST /v1/refresh` (SPEC §10.5): the answer's body, or an ApiError (429 rate limit, a failed refresh). */
  readonly refresh?: ((principal: Principal) => Promise<Record<string, unknown>>) | undefined;
}

export interface RunningServer {
  /** The TCP port and URL; 0 and `''` without a TCP listener. */
  readonly port: number;
  readonly url: string;
  /** The Unix socket's path, when there is one. */
  readonly socketPath?: string | undefined;
  /** Notes for the start-up log (the socket's directory). */
  readonly warnings: readonly string[];
  /** Stop accepting, let in-flight requests finish (bounded), then close every socket. */
  close(): Promise<void>;
}

/** Listen on 127.0.0.1 only — never 0.0.0.0 (SPEC §5.1). */
export const LISTEN_HOST = '127.0.0.1';

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  let port = o.port === 'off' ? 0 : o.port;
  const rec = o.metrics;
  // One count for both listeners: the connection cap is the API's, not each transport's.
  const count: ConnectionCount = { open: 0 };
  // `viaSocket`: the Host rule differs (there is no port to name).
  const answer = (viaSocket: boolean) => (req: IncomingMessage, res: ServerResponse) => {
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
      const pending = handle(req, res, count.open, viaSocket ? SOCKET : port, o, seen, internal);
      if (pending) pending.catch(internal);
    } catch (err) {
      internal(err);
    }
  };
  const tcp = o.port === 'off' ? undefined : createListener(o.maxConnections, answer(false), count);
  if (tcp !== undefined) port = await tcp.listen(port, LISTEN_HOST);
  let unix: { readonly listener: Listener; readonly bound: BoundSocket } | undefined;
  if (o.socket !== undefined) {
    const listener = createListener(o.maxConnections, answer(true), count);
    try {
      unix = { listener, bound: await bindUnixSocket(o.socket, (path) => listener.listenPath(path)) };
    } catch (err) {
      await Promise.all([tcp?.close(), listener.close()]);
      throw err;
    }
  }
  return {
    port,
    url: tcp === undefined ? '' : `http://${LISTEN_HOST}:${port}`,
    socketPath: unix?.bound.path,
    warnings: unix?.bound.warnings ?? [],
    close: async () => {
      await Promise.all([tcp?.close(), unix?.listener.close()]);
      unix?.bound.remove();
    },
  };
}

/** The Host gate's "port" for a request that came over the Unix socket. */
const SOCKET = 'socket';

/** What the request counter needs from the gates: the route they matched, and when the request came. */
interface Seen {
  route: RequestRoute;
  readonly start: number;
  /** The authenticated token's name (`main` or a scoped token's), once the token gate passed. */
  token?: string;
}

/**
 * The fixed gate order of SPEC §5: connections → proxy → Host → route → method → token → state;
 * on the secrets routes `?wait` (400) comes between token and state, and `If-None-Match` (304)
 * after the state (notify.ts, SPEC §10.2).
 * Synchronous unless the mode must wait, so a cached answer costs no promise.
 */
function handle(
  req: IncomingMessage,
  res: ServerResponse,
  open: number,
  port: number | typeof SOCKET,
  o: ServerOptions,
  seen: Seen | undefined,
  internal: (err: unknown) => void,
): void | Promise<void> {
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
  // The modes answer within the principal's scope: a scoped token (SPEC §10.3) sees only its
  // namespaces, the main token everything; its scope is part of every tag (notify.ts).
  const scope = principal?.scopeId;
  switch (route.name) {
    case 'health':
      return sendJson(req, res, 200, o.mode.health());
    case 'ready': {
      const r = o.mode.ready();
      return sendJson(req, res, r.ready ? 200 : 503, r);
    }
    case 'secrets':
      return o.notify.answer({ req, res, rep: { route: 'secrets', scope }, produce: () => o.mode.secrets(principal), internal });
    case 'keys':
      return o.notify.answer({ req, res, rep: { route: 'keys', scope }, produce: () => o.mode.keys(principal), internal });
    case 'secret': {
      // The wait parameter (400), the state (503) and any condition (304) are checked in notify.ts, in that order.
      const key = route.key ?? '';
      const plain = prefersTextPlain(req.headers.accept);
      return o.notify.answer({
        req,
        res,
        rep: { route: 'secret', key, plain, scope },
        produce: () => o.mode.secret(key, { plain, scope: principal }),
        internal,
      });
    }
    case 'refresh': {
      if (o.refresh === undefined || principal === undefined) return sendError(req, res, new ApiError('not_found'));
      return o.refresh(principal).then(
        (answer) => sendJson(req, res, 200, answer),
        (err: unknown) => {
          if (err instanceof ApiError) return sendError(req, res, err);
          throw err;
        },
      );
    }
  }
}

/**
 * `127.0.0.1`, `localhost`, optionally with our port. Anything else may be DNS rebinding. On the
 * Unix socket there is no port to name: `localhost` or `127.0.0.1` alone (what curl
 * `--unix-socket http://localhost/…` and node:http `socketPath` send). A browser cannot reach a
 * socket, but a local proxy that forwards to it would pass the name it was asked for, which is
 * refused like any other.
 */
function hostAllowed(host: string | undefined, port: number | typeof SOCKET): boolean {
  if (host === undefined) return false;
  const h = host.toLowerCase();
  if (h === '127.0.0.1' || h === 'localhost') return true;
  return port !== SOCKET && (h === `127.0.0.1:${port}` || h === `localhost:${port}`);
}
