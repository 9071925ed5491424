/**
 * The node:http server both listeners share (the secrets API and the operations listener): the
 * header, request, keep-alive and idle limits, the connection cap with its kernel-level headroom,
 * malformed requests answered without reaching a handler, and the bounded drain on stop. One
 * definition, so the listener that may face the network cannot drift from the API's limits.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import net, { type Socket } from 'node:net';
import { HTTP_LIMITS as LIMITS } from '../../common/limits.js';
import { http } from './node-http.js';

export interface Listener {
  readonly server: Server;
  /** Connections open right now (the connection-cap gate compares it with the cap). */
  open(): number;
  /** Listen on host:port; resolves with the bound port. */
  listen(port: number, host: string): Promise<number>;
  /** Listen on a Unix domain socket at `path` (src/http/unix-socket.ts decides which path, and when). */
  listenPath(path: string): Promise<void>;
  /** Stop accepting, let in-flight requests finish (bounded), then close every socket. */
  close(): Promise<void>;
}

/** Open connections, shared by the listeners of one API (TCP and Unix socket) so the cap is one cap. */
export interface ConnectionCount {
  open: number;
}

const NODE_MAJOR = Number(process.versions.node.split('.')[0]);

/**
 * Does ahead of time what makes a first `listen(port, host)` slow, so the agent can do it while its
 * workers start (the main thread only waits then), off a cold start's path (bench/README.md
 * "Lambda cold start"):
 *  - newer Node (measured on 26) passes the looked-up address through `net.isIPv6`, whose large
 *    regular expression V8 compiles on the first call and again to machine code on the second:
 *    ~12 ms on the 2-core machine. Node 20 does not call it there, so it is not done on Node 20,
 *    where it cost those 12 ms for nothing: on one core, or once the workers start before the
 *    configuration loads, the main thread's own work is the cold start's path;
 *  - listen loads node:dns (for the lookup) and node:cluster (to ask whether it is a worker): ~3 ms.
 */
export function prepareListen(): void {
  if (NODE_MAJOR > 20) for (let i = 0; i < 2; i++) net.isIPv6('127.0.0.1');
  const require = createRequire(import.meta.url);
  require('node:dns');
  require('node:cluster');
}

/** `onRequest` is called for every request, `Expect: 100-continue` ones included. */
export function createListener(
  maxConnections: number,
  onRequest: (req: IncomingMessage, res: ServerResponse) => void,
  count: ConnectionCount = { open: 0 },
): Listener {
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
  server.maxConnections = maxConnections + Math.max(LIMITS.connectionHeadroomMin, Math.ceil(maxConnections / LIMITS.connectionHeadroomDivisor));
  server.on('connection', (socket: Socket) => {
    count.open++;
    sockets.set(socket, 0);
    socket.setTimeout(LIMITS.socketIdleMs, () => socket.destroy());
    socket.once('close', () => {
      count.open--;
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
  const tracked = (req: IncomingMessage, res: ServerResponse): void => {
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
    onRequest(req, res);
  };
  server.on('request', tracked);
  // No route reads a body, so `Expect: 100-continue` never needs a 100. Node's default would write
  // one at once, even when the request is pipelined behind another whose answer is still pending,
  // splicing it into that answer's bytes: handle such requests like any other.
  server.on('checkContinue', tracked);

  return {
    server,
    open: () => count.open,
    listen: async (port, host) => {
      await listenOn(server, { port, host });
      const address = server.address();
      return typeof address === 'object' && address ? address.port : port;
    },
    listenPath: (path) => listenOn(server, { path }),
    close: () => closeServer(server, sockets, drain),
  };
}

function listenOn(server: Server, where: net.ListenOptions): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(where, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Stop accepting and let in-flight responses finish (bounded by `drainMs`). Not `server.close()`:
 * on Node ≥ 19 it calls `closeIdleConnections()`, which counts a connection whose response was
 * `end()`ed but is still being written as idle and destroys it, truncating the response. So: stop
 * listening at the net level, destroy only sockets that owe no response, and close the others
 * once their last response is out.
 */
async function closeServer(server: Server, sockets: Map<Socket, number>, drain: { stopping: boolean }): Promise<void> {
  drain.stopping = true;
  const closed = new Promise<void>((resolve) => net.Server.prototype.close.call(server, () => resolve()));
  for (const [socket, owed] of sockets) if (owed === 0) socket.destroy();
  const timer = setTimeout(() => server.closeAllConnections(), LIMITS.drainMs);
  timer.unref();
  await closed;
  clearTimeout(timer);
}

/**
 * Host headers as sent. Node keeps only the first `Host` in `req.headers`, so a second one, which
 * a proxy or cache in front may have read instead, shows only in the raw list.
 */
export function hostCount(raw: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < raw.length; i += 2) if (raw[i]?.length === 4 && raw[i]?.toLowerCase() === 'host') n++;
  return n;
}
