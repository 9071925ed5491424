/**
 * Fixtures for the HTTP API suites (test/e2e/http-*.test.ts): start a real agent on a file
 * artifact, raw-socket HTTP for requests node:http cannot express, and /proc views of the
 * agent's listening sockets.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentProcess, type HttpAnswer } from './agent-process.js';
import { ageKeyPair, artifactJson, type AgeKeyPair, type BuildOptions } from './artifacts.js';

/** A 64-hex-character token, like the generated ones. */
export const TOKEN = 'c1ef'.repeat(16);

export const ROUTES = ['/v1/health', '/v1/ready', '/v1/secrets', '/v1/keys', '/v1/secrets/app__API_KEY'] as const;
export const SECRET_ROUTES = ['/v1/secrets', '/v1/keys', '/v1/secrets/app__API_KEY'] as const;

export interface FileAgent {
  readonly agent: AgentProcess;
  readonly key: AgeKeyPair;
  readonly dir: string;
  readonly artifactPath: string;
  /** Stop the agent (SIGTERM, then SIGKILL if it hangs) and remove the temp dir. */
  close(): Promise<void>;
}

export interface FileAgentOptions {
  /** The payload object, or its JSON text (use text for keys such as `__proto__`). */
  readonly payload: unknown;
  readonly env?: Record<string, string>;
  /** Extra artifact fields (revision, packedAt, …). */
  readonly artifact?: Omit<BuildOptions, 'recipient' | 'payload'>;
  /** Wait for the first load (default true); otherwise wait only for `listening`. */
  readonly waitReady?: boolean;
}

export function tempDir(prefix = 'clef-http-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Start the built agent on a file artifact holding `payload`, token TOKEN, one worker. */
export async function startFileAgent(o: FileAgentOptions): Promise<FileAgent> {
  const key = await ageKeyPair();
  const dir = tempDir();
  const artifactPath = join(dir, 'artifact.json');
  writeFileSync(artifactPath, await artifactJson({ ...o.artifact, recipient: key.recipient, payload: o.payload }));
  const agent = new AgentProcess({
    CLEF_AGENT_SOURCE: artifactPath,
    CLEF_AGENT_AGE_KEY: key.identity,
    CLEF_AGENT_TOKEN: TOKEN,
    CLEF_AGENT_WORKERS: '1',
    ...o.env,
  });
  const close = async (): Promise<void> => {
    await stopAgent(agent);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (o.waitReady === false) await agent.listening();
    else await agent.ready();
  } catch (err) {
    await close();
    throw err;
  }
  return { agent, key, dir, artifactPath, close };
}

/** SIGTERM, and SIGKILL after 10 s so a hung agent never outlives the suite. */
export async function stopAgent(agent: AgentProcess): Promise<number | null> {
  const kill = setTimeout(() => agent.child.kill('SIGKILL'), 10_000);
  try {
    return await agent.stop('SIGTERM');
  } finally {
    clearTimeout(kill);
  }
}

/** The SPEC §5 error body: exactly `{"error": <non-empty string>, "reason": <code>}`. */
export function assertErrorBody(r: HttpAnswer, status: number, reason: string): void {
  assert.equal(r.status, status, `status for ${reason}: ${r.body}`);
  assert.match(String(r.headers['content-type']), /^application\/json/);
  const body = r.json<Record<string, unknown>>();
  assert.deepEqual(Object.keys(body).sort(), ['error', 'reason'], `error body keys: ${r.body}`);
  assert.equal(typeof body['error'], 'string');
  assert.ok((body['error'] as string).length > 0);
  assert.equal(body['reason'], reason);
}

export interface RawResponse {
  readonly status: number;
  readonly head: string;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Parse one HTTP/1.1 response (status line, headers, Content-Length body) from `text`. */
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

/**
 * Write raw bytes and collect everything until the server closes the connection (or
 * `timeoutMs`, which rejects). Resolves with the text and whether the socket was closed.
 */
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

/** A persistent (keep-alive) client connection that sends requests one at a time. */
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

  static open(port: number, host = '127.0.0.1'): Promise<KeepAliveConnection> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port }, () => resolve(new KeepAliveConnection(s)));
      s.once('error', reject);
    });
  }

  /** Send a GET and read exactly one response; rejects if the server closes first. */
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

/** `connected` or the error code of a TCP connect to host:port. */
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

export interface ListeningSocket {
  readonly family: 'tcp' | 'tcp6';
  /** Local address as hex, as /proc/net/tcp{,6} shows it (127.0.0.1 is `0100007F`). */
  readonly addressHex: string;
  readonly address: string;
  readonly port: number;
}

/**
 * Every TCP socket in LISTEN state owned by process `pid` (Linux: socket inodes from
 * /proc/<pid>/fd matched against /proc/net/tcp and tcp6). Worker threads share the process fds.
 */
export function listeningSockets(pid: number): ListeningSocket[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // fd closed meanwhile
    }
  }
  const out: ListeningSocket[] = [];
  for (const family of ['tcp', 'tcp6'] as const) {
    let table: string;
    try {
      table = readFileSync(`/proc/net/${family}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (f.length < 10 || f[3] !== '0A' || !inodes.has(f[9] ?? '')) continue;
      const [addressHex = '', portHex = '0'] = (f[1] ?? '').split(':');
      out.push({ family, addressHex, address: hexToAddress(addressHex), port: parseInt(portHex, 16) });
    }
  }
  return out;
}

function hexToAddress(hex: string): string {
  if (hex.length === 8) {
    // Little-endian IPv4.
    const b = Buffer.from(hex, 'hex');
    return `${b[3]}.${b[2]}.${b[1]}.${b[0]}`;
  }
  return hex;
}

/** Poll `fn` until it returns true (bounded); for server-side effects with no event to wait on. */
export async function eventually(fn: () => Promise<boolean> | boolean, timeoutMs = 10_000, everyMs = 50): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
