/**
 * HTTP from the test side. `request`: one request on its own connection, every header under the
 * test's control (Host included). The raw-socket helpers write bytes node:http would refuse to
 * send (malformed request lines, absolute-form targets, pipelining) and read what comes back.
 */
import http from 'node:http';
import net from 'node:net';

export interface RequestOptions {
  readonly method?: string;
  /** Sent as `Authorization: Bearer <token>` unless `headers` sets authorization itself. */
  readonly token?: string;
  /** Extra headers (these win); `host: null` sends no Host header at all. */
  readonly headers?: Readonly<Record<string, string | null>>;
  /** Abort the request after this long: the answer then rejects. */
  readonly timeoutMs?: number;
  /** The loopback address to connect to (default 127.0.0.1). */
  readonly connect?: string;
  /** Connect to this Unix domain socket instead (the port is then ignored; Host defaults to `localhost`). */
  readonly socketPath?: string;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** Header names and values exactly as sent (case preserved), in order. */
  readonly rawHeaders: readonly string[];
  readonly bytes: Buffer;
  /** `bytes` as UTF-8. */
  readonly body: string;
  json<T = unknown>(): T;
}

/** One request to 127.0.0.1:`port` on a fresh connection (no keep-alive agent). */
export function request(port: number, path: string, o: RequestOptions = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { host: o.socketPath === undefined ? `127.0.0.1:${port}` : 'localhost' };
  if (o.token) headers['authorization'] = `Bearer ${o.token}`;
  for (const [k, v] of Object.entries(o.headers ?? {})) {
    if (v === null) delete headers[k.toLowerCase()];
    else headers[k.toLowerCase()] = v;
  }
  const timeoutMs = o.timeoutMs ?? 30_000;
  return new Promise((resolve, reject) => {
    const to = o.socketPath === undefined ? { host: o.connect ?? '127.0.0.1', port } : { socketPath: o.socketPath };
    const req = http.request({ ...to, path, method: o.method ?? 'GET', headers, setHost: false, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const bytes = Buffer.concat(chunks);
        const body = bytes.toString('utf8');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, rawHeaders: res.rawHeaders, bytes, body, json: <T>() => JSON.parse(body) as T });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** One request over the Unix domain socket at `socketPath` (Host `localhost` unless `o.headers` says otherwise). */
export function socketRequest(socketPath: string, path: string, o: RequestOptions = {}): Promise<HttpAnswer> {
  return request(0, path, { ...o, socketPath });
}

/** `rawHeaders` as name/value pairs, without `Date` (the one header two answers may differ in). */
export function headerPairs(a: HttpAnswer): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < a.rawHeaders.length; i += 2) {
    const name = a.rawHeaders[i] ?? '';
    if (name.toLowerCase() !== 'date') out.push([name, a.rawHeaders[i + 1] ?? '']);
  }
  return out;
}

export interface RawResponse {
  readonly status: number;
  readonly head: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Parses one HTTP/1.1 response (status line, headers, Content-Length body) from the start of `text`. */
export function parseRawResponse(text: string): RawResponse | undefined {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return undefined;
  const head = text.slice(0, end);
  const [statusLine = '', ...lines] = head.split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine)?.[1] ?? NaN);
  const headers: Record<string, string> = {};
  for (const l of lines) {
    const i = l.indexOf(':');
    if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  const length = Number(headers['content-length'] ?? 0);
  const body = text.slice(end + 4);
  if (Buffer.byteLength(body) < length) return undefined;
  return { status, head, headers, body: body.slice(0, length) };
}

/** Writes raw bytes and collects everything until the server closes the connection; rejects after `timeoutMs`. */
export function rawExchange(port: number, data: string | Buffer, timeoutMs = 10_000, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    let text = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no close within ${timeoutMs} ms; received: ${text.slice(0, 200)}`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => (text += d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(text);
    });
    socket.write(data);
  });
}

/** A persistent (keep-alive) client connection that sends GETs one at a time. */
export class KeepAliveConnection {
  readonly socket: net.Socket;
  private buffer = '';
  /** Everything the server sent on this connection. */
  received = '';
  private waiter: (() => void) | undefined;
  closed = false;

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.received += d;
      this.waiter?.();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
  }

  /** To 127.0.0.1:`port`, or to the Unix socket at `port` when it is a path. */
  static open(port: number | string, host = '127.0.0.1'): Promise<KeepAliveConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect(typeof port === 'string' ? { path: port } : { host, port }, () => resolve(new KeepAliveConnection(s)));
      s.once('error', reject);
    });
  }

  /** Sends a GET and reads exactly one response; rejects if the server closes first. */
  request(path: string, headers: Record<string, string>, timeoutMs = 10_000): Promise<RawResponse> {
    const lines = [`GET ${path} HTTP/1.1`, ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`), '', ''];
    this.socket.write(lines.join('\r\n'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = (): void => {
        const r = parseRawResponse(this.buffer);
        if (r) {
          clearTimeout(timer);
          this.waiter = undefined;
          this.buffer = this.buffer.slice(this.buffer.indexOf('\r\n\r\n') + 4 + Buffer.byteLength(r.body));
          resolve(r);
        } else if (this.closed) {
          clearTimeout(timer);
          this.waiter = undefined;
          reject(new Error(`connection closed before a full response: ${this.buffer.slice(0, 200)}`));
        }
      };
      this.waiter = check;
      check();
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.destroy();
    });
  }
}

/** `connected`, or the error code of a TCP connect to host:port. */
export function tryConnect(host: string, port: number, timeoutMs = 5_000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('ETIMEDOUT');
    }, timeoutMs);
    s.once('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code ?? 'error');
    });
  });
}

/** A loopback port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
