/**
 * The HTTP fuzz suite's wire side: drive one raw TCP connection (pieces, delays, half-close or
 * cut) and split what came back into HTTP/1.1 responses, strictly enough to catch a malformed one.
 */
import net from 'node:net';
import { sleep } from '../kit/index.js';

export interface WireResponse {
  readonly status: number;
  readonly headers: ReadonlyMap<string, string>;
  readonly body: Buffer;
}

export interface Exchange {
  readonly received: Buffer;
  /** The server closed the connection (rather than our cut or time-out ending it). */
  readonly serverClosed: boolean;
}

/** Writes `data` in pieces with delays (the rest in one go), then half-closes (`end`) or destroys (`cut`) the socket; collects everything received. */
export function exchange(
  port: number,
  data: Buffer,
  o: { pieces: readonly number[]; delays: readonly number[]; finish: 'end' | 'cut'; cutAfterMs: number; timeoutMs: number },
): Promise<Exchange> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    let cut = false;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server neither answered nor closed within ${o.timeoutMs} ms (received ${Buffer.concat(chunks).length} bytes)`));
    }, o.timeoutMs);
    socket.on('data', (d: Buffer) => chunks.push(d));
    // A reset after the server refused the request is an answer too.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({ received: Buffer.concat(chunks), serverClosed: !cut });
    });
    socket.once('connect', () => {
      void (async () => {
        let at = 0;
        // The listed pieces, with a delay after each, then the rest at once.
        for (let i = 0; at < data.length && !socket.destroyed; i++) {
          const n = o.pieces[i] ?? data.length;
          socket.write(data.subarray(at, at + n));
          at += n;
          const d = o.delays[i % o.delays.length] ?? 0;
          if (d > 0 && at < data.length) await sleep(d);
        }
        if (o.finish === 'end') socket.end();
        else {
          await sleep(o.cutAfterMs);
          cut = true;
          socket.destroy();
        }
      })();
    });
  });
}

/**
 * Splits `bytes` into responses. Every response must be a well-formed HTTP/1.1 response: status
 * line, headers, `Content-Length` framing (the agent never sends chunked bodies). A body-less
 * response to HEAD still carries `Content-Length`; it is recognised because what follows is the
 * next status line or the end of the stream (a GET body here is JSON or a secret's value, never
 * `HTTP/1.`). When `partialOk` (we cut the connection), a truncated last response is dropped.
 * Throws on anything else, with the offending bytes.
 */
export function parseResponses(bytes: Buffer, partialOk: boolean): WireResponse[] {
  const text = bytes.toString('latin1');
  const out: WireResponse[] = [];
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) {
      if (partialOk) break;
      throw new Error(`truncated response head at byte ${at}: ${JSON.stringify(text.slice(at, at + 200))}`);
    }
    const [statusLine = '', ...lines] = text.slice(at, end).split('\r\n');
    const m = /^HTTP\/1\.1 ([1-5]\d\d) [^\r\n]*$/.exec(statusLine);
    if (!m) throw new Error(`not an HTTP/1.1 status line: ${JSON.stringify(statusLine.slice(0, 200))}`);
    const status = Number(m[1]);
    const headers = new Map<string, string>();
    for (const l of lines) {
      const hm = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*(.*?)[ \t]*$/.exec(l);
      if (!hm) throw new Error(`malformed response header line: ${JSON.stringify(l.slice(0, 200))}`);
      const name = (hm[1] ?? '').toLowerCase();
      if (headers.has(name) && name !== 'set-cookie') throw new Error(`duplicate response header ${name}`);
      headers.set(name, hm[2] ?? '');
    }
    at = end + 4;
    if (status >= 100 && status < 200) {
      out.push({ status, headers, body: Buffer.alloc(0) });
      continue;
    }
    const te = headers.get('transfer-encoding');
    if (te !== undefined) {
      // Only Node's own answers are chunked (e.g. its 400 to an HTTP/1.1 request without Host).
      if (te !== 'chunked' || headers.has('content-length')) throw new Error(`bad response framing: Transfer-Encoding ${te}`);
      const chunked = readChunked(bytes, at);
      if (chunked === undefined) {
        if (partialOk) break;
        throw new Error(`malformed or truncated chunked body at byte ${at}: ${JSON.stringify(text.slice(at, at + 100))}`);
      }
      out.push({ status, headers, body: chunked.body });
      at = chunked.end;
      continue;
    }
    const cl = headers.get('content-length');
    if (cl === undefined) {
      // Node's own answers to HEAD (its 400 for a missing Host, its 417) carry no framing: they
      // have no body. Anything else without a length must be delimited by the close.
      if (text.startsWith('HTTP/1.', at) || at === text.length) {
        out.push({ status, headers, body: Buffer.alloc(0) });
        continue;
      }
      if (headers.get('connection') !== 'close') throw new Error(`response ${status} without Content-Length on a kept-alive connection`);
      out.push({ status, headers, body: bytes.subarray(at) });
      break;
    }
    if (!/^\d+$/.test(cl)) throw new Error(`response ${status} without a valid Content-Length: ${String(cl)}`);
    const length = Number(cl);
    const rest = text.slice(at, at + 8);
    const bodyless = length > 0 && (rest.length === 0 || rest.startsWith('HTTP/1.'));
    if (bodyless) {
      out.push({ status, headers, body: Buffer.alloc(0) });
      continue;
    }
    if (text.length - at < length) {
      if (partialOk) break;
      throw new Error(`response ${status} body truncated: ${text.length - at} of ${length} bytes`);
    }
    out.push({ status, headers, body: bytes.subarray(at, at + length) });
    at += length;
  }
  return out;
}

/** A chunked body starting at `at`: its bytes and where it ends, or undefined if malformed or incomplete. */
function readChunked(bytes: Buffer, at: number): { body: Buffer; end: number } | undefined {
  const parts: Buffer[] = [];
  for (;;) {
    const eol = bytes.indexOf('\r\n', at);
    if (eol < 0) return undefined;
    const size = /^([0-9a-fA-F]+)$/.exec(bytes.subarray(at, eol).toString('latin1'))?.[1];
    if (size === undefined) return undefined;
    const n = parseInt(size, 16);
    at = eol + 2;
    if (n === 0) return bytes.subarray(at, at + 2).toString('latin1') === '\r\n' ? { body: Buffer.concat(parts), end: at + 2 } : undefined;
    if (bytes.length < at + n + 2 || bytes.subarray(at + n, at + n + 2).toString('latin1') !== '\r\n') return undefined;
    parts.push(bytes.subarray(at, at + n));
    at += n + 2;
  }
}

/**
 * Sends one well-formed request and reads exactly one response, keeping the connection open
 * until then (a half-close would make node:http drop a response still being made, e.g. a JIT
 * decryption), then closes it.
 */
export function requestOnce(port: number, text: string, head: boolean, timeoutMs: number): Promise<WireResponse> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    let buf = Buffer.alloc(0);
    const done = (err: Error | undefined, r?: WireResponse): void => {
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(r as WireResponse);
    };
    const timer = setTimeout(
      () => done(new Error(`no complete response within ${timeoutMs} ms: ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`)),
      timeoutMs,
    );
    socket.on('error', (e) => done(e));
    socket.on('close', () => done(new Error(`closed before a complete response: ${JSON.stringify(buf.toString('latin1').slice(0, 200))}`)));
    socket.on('data', (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const cl = Number(/\r\ncontent-length: *(\d+)/i.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? 0);
      if (!head && buf.length < end + 4 + cl) return;
      try {
        const [r, ...more] = parseResponses(head ? buf.subarray(0, end + 4) : buf, false);
        if (more.length > 0) throw new Error('more than one response to one request');
        done(undefined, r);
      } catch (err) {
        done(err as Error);
      }
    });
    socket.write(text);
  });
}
