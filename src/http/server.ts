import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import { HTTP_LIMITS as LIMITS } from '../../common/limits.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Body, ServingMode } from '../serving/mode.js';
import { prefersTextPlain } from './accept.js';
import type { TokenGuard } from './auth.js';
import { ALLOWED_METHODS, matchRoute } from './routes.js';

export interface ServerOptions {
  readonly port: number;
  readonly maxConnections: number;
  readonly mode: ServingMode;
  readonly guard: TokenGuard;
  readonly log: Logger;
}

export interface RunningServer {
  readonly port: number;
  readonly url: string;
  /** Stop accepting, let in-flight requests finish (bounded), then close every socket. */
  close(): Promise<void>;
}

const BASE_HEADERS = [
  'X-Content-Type-Options',
  'nosniff',
  // Every answer, not only secrets: health and errors have no business in a shared cache either.
  'Cache-Control',
  'no-store',
] as const;

const CONTENT_TYPES: Record<Body['contentType'], string> = {
  'application/json': 'application/json; charset=utf-8',
  'text/plain': 'text/plain; charset=utf-8',
};

/** Listen on 127.0.0.1 only — never 0.0.0.0 (SPEC §5.1). */
export const LISTEN_HOST = '127.0.0.1';

export async function startServer(o: ServerOptions): Promise<RunningServer> {
  let open = 0;
  let port = o.port;
  const server = http.createServer({
    maxHeaderSize: LIMITS.maxHeaderBytes,
    headersTimeout: LIMITS.headersTimeoutMs,
    requestTimeout: LIMITS.requestTimeoutMs,
    keepAliveTimeout: LIMITS.keepAliveTimeoutMs,
    connectionsCheckingInterval: LIMITS.checkIntervalMs,
  });
  // Open sockets and how many responses each still owes; a stop waits for those (see closeServer).
  const sockets = new Map<Socket, number>();
  const drain = { stopping: false };
  // Past the cap, requests get 429; far past it, the kernel-level accept is refused outright so
  // a flood cannot exhaust memory with idle sockets.
  server.maxConnections = o.maxConnections + Math.max(LIMITS.connectionHeadroomMin, Math.ceil(o.maxConnections / LIMITS.connectionHeadroomDivisor));
  server.on('connection', (socket: Socket) => {
    open++;
    sockets.set(socket, 0);
    socket.setTimeout(LIMITS.socketIdleMs, () => socket.destroy());
    socket.once('close', () => {
      open--;
      sockets.delete(socket);
    });
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const socket = req.socket;
    sockets.set(socket, (sockets.get(socket) ?? 0) + 1);
    res.once('close', () => {
      const owed = (sockets.get(socket) ?? 1) - 1;
      if (sockets.has(socket)) sockets.set(socket, owed);
      // Stopping: the last owed response is out; the connection is not kept alive.
      if (drain.stopping && owed === 0) socket.destroySoon();
    });
    // Stopping: answer what arrived, but do not keep the connection alive for more.
    if (drain.stopping) res.shouldKeepAlive = false;
    const internal = (err: unknown): void => {
      o.log.error({ event: 'request.failed', err: errorSummary(err) }, 'unexpected error while answering a request');
      if (!res.headersSent) send(req, res, 500, 'application/json', Buffer.from('{"error":"internal error","reason":"internal"}'));
      else res.destroy();
    };
    try {
      const pending = handle(req, res, open, port, o);
      if (pending) pending.catch(internal);
    } catch (err) {
      internal(err);
    }
  };
  server.on('request', onRequest);
  // No route reads a body, so `Expect: 100-continue` never needs a 100. Node's default would write
  // one at once, even when the request is pipelined behind another whose answer is still pending,
  // splicing it into that answer's bytes: handle such requests like any other.
  server.on('checkContinue', onRequest);

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, LISTEN_HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address();
  port = typeof address === 'object' && address ? address.port : o.port;

  return {
    port,
    url: `http://${LISTEN_HOST}:${port}`,
    close: () => closeServer(server, sockets, drain),
  };
}

/**
 * The fixed gate order of SPEC §5: connections → proxy → Host → route → method → token → state.
 * Synchronous unless the mode must wait, so a cached answer costs no promise.
 */
function handle(req: IncomingMessage, res: ServerResponse, open: number, port: number, o: ServerOptions): void | Promise<void> {
  if (open > o.maxConnections) return sendError(req, res, new ApiError('too_many_connections', { headers: { Connection: 'close' } }));
  if (req.headers['x-forwarded-for'] !== undefined || req.headers['forwarded'] !== undefined) return sendError(req, res, new ApiError('proxied_request'));
  if (hostCount(req.rawHeaders) > 1) return sendError(req, res, new ApiError('invalid_host'));
  if (!hostAllowed(req.headers.host, port)) return sendError(req, res, new ApiError('forbidden_host'));
  const route = matchRoute(req.url ?? '/');
  if (!route) return sendError(req, res, new ApiError('not_found'));
  if (req.method !== 'GET' && req.method !== 'HEAD') return sendError(req, res, new ApiError('method_not_allowed', { headers: { Allow: ALLOWED_METHODS } }));
  if (route.auth && !o.guard.check(req.headers.authorization))
    return sendError(req, res, new ApiError('unauthorized', { headers: { 'WWW-Authenticate': 'Bearer' } }));
  let body: Body | Promise<Body>;
  try {
    switch (route.name) {
      case 'health':
        return sendJson(req, res, 200, o.mode.health());
      case 'ready': {
        const r = o.mode.ready();
        return sendJson(req, res, r.ready ? 200 : 503, r);
      }
      case 'secrets':
        body = o.mode.secrets();
        break;
      case 'keys':
        body = o.mode.keys();
        break;
      case 'secret':
        body = o.mode.secret(route.key ?? '', { plain: prefersTextPlain(req.headers.accept) });
        break;
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

/**
 * Host headers as sent. Node keeps only the first `Host` in `req.headers`, so a second one, which
 * a proxy or cache in front may have read instead, shows only in the raw list.
 */
function hostCount(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.length === 4 && raw[i]?.toLowerCase() === 'host') n++;
  return n;
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

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown): void {
  send(req, res, status, 'application/json', Buffer.from(JSON.stringify(value)));
}

/** The error response of an `ApiError`: its status, JSON body and extra headers. */
function sendError(req: IncomingMessage, res: ServerResponse, err: ApiError): void {
  const extra: string[] = [];
  for (const [k, v] of Object.entries(err.headers ?? {})) extra.push(k, v);
  send(req, res, err.status, 'application/json', Buffer.from(err.body()), extra);
}

/**
 * HEAD is answered like GET without the body (same Content-Length). Headers go in Node's flat
 * array form: no per-request header objects to build and spread on the hot path.
 */
function send(req: IncomingMessage, res: ServerResponse, status: number, type: Body['contentType'], bytes: Buffer, extra?: readonly string[]): void {
  const headers = [...BASE_HEADERS, 'Content-Type', CONTENT_TYPES[type], 'Content-Length', String(bytes.length)];
  if (extra) headers.push(...extra);
  res.writeHead(status, headers);
  if (req.method === 'HEAD') res.end();
  else res.end(bytes);
}

/**
 * Stop accepting and let in-flight responses finish (bounded by `drainMs`). Not `server.close()`:
 * on Node ≥ 19 it calls `closeIdleConnections()`, which counts a connection whose response was
 * `end()`ed but is still being written as idle and destroys it, truncating the response. So: stop
 * listening at the net level, destroy only sockets that owe no response, and close the others
 * once their last response is out.
 */
async function closeServer(server: http.Server, sockets: Map<Socket, number>, drain: { stopping: boolean }): Promise<void> {
  drain.stopping = true;
  const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
  for (const [socket, owed] of sockets) if (owed === 0) socket.destroy();
  const timer = setTimeout(() => server.closeAllConnections(), LIMITS.drainMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}

function errorSummary(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
