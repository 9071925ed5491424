/**
 * Fixtures for the JIT suites (test/e2e/jit-*.test.ts): the real agent started in this process
 * (`loadConfig` + `startAgent`, a real piscina pool) with its logs captured, byte-exact HTTP
 * requests, bounded bursts, and /proc views (RSS, the agent's TCP connections) for leak checks.
 */
import http from 'node:http';
import { readFileSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startAgent, type AgentHandle } from '../../src/agent.js';
import { loadConfig } from '../../src/config/index.js';
import { AgentProcess } from './agent-process.js';
import { ageKeyPair, artifactJson } from './artifacts.js';
import { TOKEN, stopAgent, tempDir } from './http-fixtures.js';

export interface LogEntry {
  readonly event?: string;
  readonly level?: number;
  readonly [k: string]: unknown;
}

export interface InProcessAgent {
  readonly handle: AgentHandle;
  readonly port: number;
  readonly token: string;
  readonly logs: LogEntry[];
  /** The first log entry at index ≥ `from` matching `pred` (bounded). */
  logAfter(from: number, pred: (l: LogEntry) => boolean, timeoutMs?: number): Promise<LogEntry>;
  get(path: string, o?: RawOptions): Promise<RawAnswer>;
  close(): Promise<void>;
}

/**
 * The settings of a JIT agent on an HTTP source, polled every 5 s (the minimum), with one worker;
 * `extra` adds to or overrides them.
 */
export function jitHttpEnv(source: string, identity: string, token: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    CLEF_AGENT_SOURCE: source,
    CLEF_AGENT_AGE_KEY: identity,
    CLEF_AGENT_TOKEN: token,
    CLEF_AGENT_CACHE_TTL: '0',
    CLEF_AGENT_POLL_INTERVAL: '5',
    CLEF_AGENT_WORKERS: '1',
    ...extra,
  };
}

/**
 * The real agent in this process. `env` is copied (loadConfig deletes CLEF_AGENT_AGE_KEY from the
 * object it is given); the port defaults to 0 (any free port). Waits for the first load.
 */
export async function startInProcess(env: Record<string, string>): Promise<InProcessAgent> {
  const logs: LogEntry[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.startsWith('{')) logs.push(JSON.parse(line) as LogEntry);
      cb();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const config = loadConfig({ CLEF_AGENT_PORT: '0', CLEF_AGENT_LOG_LEVEL: 'debug', ...env });
  const handle = await startAgent(config, { log });
  try {
    await handle.loaded;
  } catch (err) {
    await handle.close();
    throw err;
  }
  const token = config.token;
  return {
    handle,
    port: handle.port,
    token,
    logs,
    logAfter: (from, pred, timeoutMs = 20_000) => waitFor(() => logs.slice(from).find(pred), timeoutMs, 'log entry'),
    get: (path, o = {}) => rawRequest(handle.port, path, { token, ...o }),
    close: () => handle.close(),
  };
}

export interface RawOptions {
  readonly method?: string;
  readonly token?: string;
  readonly headers?: Record<string, string>;
  /** Abort the request after this long (ms): the answer then rejects. Default 30 s. */
  readonly timeoutMs?: number;
}

export interface RawAnswer {
  readonly status: number;
  /** Headers exactly as sent (name case preserved), in order. */
  readonly rawHeaders: readonly string[];
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
  json<T = unknown>(): T;
}

/** One request on its own connection (no keep-alive agent), body as bytes. */
export function rawRequest(port: number, path: string, o: RawOptions = {}): Promise<RawAnswer> {
  const headers: Record<string, string> = { host: `127.0.0.1:${port}`, ...o.headers };
  if (o.token) headers['authorization'] ??= `Bearer ${o.token}`;
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('error', reject);
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, rawHeaders: res.rawHeaders, headers: res.headers, body, json: <T>() => JSON.parse(body.toString('utf8')) as T });
      });
    });
    req.setTimeout(o.timeoutMs ?? 30_000, () => req.destroy(new Error(`no answer within ${o.timeoutMs ?? 30_000} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/** `rawHeaders` as name/value pairs, without `Date` (the only header allowed to differ). */
export function headerPairs(a: RawAnswer): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < a.rawHeaders.length; i += 2) {
    const name = a.rawHeaders[i] ?? '';
    if (name.toLowerCase() !== 'date') out.push([name, a.rawHeaders[i + 1] ?? '']);
  }
  return out;
}

/** Run `n` calls of `fn` with at most `concurrency` at a time; results in call order. */
export async function bounded<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, lane));
  return out;
}

/** What a request ended as: an HTTP status and reason, or the client-side error code. */
export interface Outcome {
  readonly status: number;
  readonly reason?: string | undefined;
  readonly retryAfter?: string | undefined;
  readonly error?: string | undefined;
}

export async function outcome(p: Promise<RawAnswer>): Promise<Outcome> {
  try {
    const r = await p;
    let reason: string | undefined;
    if (r.status !== 200) {
      try {
        reason = r.json<{ reason?: string }>().reason;
      } catch {
        reason = undefined;
      }
    }
    return { status: r.status, reason, retryAfter: r.headers['retry-after'] };
  } catch (err) {
    return { status: 0, error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
}

/** Counts outcomes as `200`, `503 overloaded`, `error ECONNRESET`, … */
export function tally(outcomes: readonly Outcome[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const o of outcomes) {
    const k = o.status === 0 ? `error ${o.error ?? '?'}` : o.reason === undefined ? String(o.status) : `${o.status} ${o.reason}`;
    t[k] = (t[k] ?? 0) + 1;
  }
  return t;
}

/** A payload of `count` keys in one namespace, each value `bytes` long and unique. */
export function largePayload(count: number, bytes: number, tag = 'V'): Record<string, Record<string, string>> {
  const app: Record<string, string> = {};
  for (let i = 0; i < count; i++) {
    const head = `${tag}-${i}-`;
    app[`KEY_${String(i).padStart(6, '0')}`] = head + 'x'.repeat(Math.max(0, bytes - head.length));
  }
  return { app };
}

/** Resident set size of process `pid`, in bytes (Linux). */
export function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m?.[1]) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/**
 * TCP connections (any state but LISTEN) owned by process `pid` whose local port is `port`: the
 * agent's side of client connections. Matched by socket inode from /proc/<pid>/fd.
 */
export function openConnections(pid: number, port: number): number {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m?.[1]) inodes.add(m[1]);
    } catch {
      // closed meanwhile
    }
  }
  let n = 0;
  for (const family of ['tcp', 'tcp6']) {
    let table = '';
    try {
      table = readFileSync(`/proc/net/${family}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] === '0A' || !inodes.has(f[9] ?? '')) continue;
      if (parseInt((f[1] ?? '').split(':')[1] ?? '0', 16) === port) n++;
    }
  }
  return n;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `get` until it returns something (bounded). */
export async function waitFor<T>(get: () => T | undefined | Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await get();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A JIT agent process serving `payload` from an artifact file in a fresh temp directory. */
export interface FileAgent {
  readonly agent: AgentProcess;
  readonly dir: string;
}

/** Start it (listening, not yet loaded: callers wait for readiness their own way). */
export async function startJitFileAgent(prefix: string, payload: unknown, env: Record<string, string>): Promise<FileAgent> {
  const dir = tempDir(prefix);
  const key = await ageKeyPair();
  const path = join(dir, 'artifact.json');
  writeFileSync(path, await artifactJson({ recipient: key.recipient, payload }));
  const agent = new AgentProcess({
    CLEF_AGENT_SOURCE: path,
    CLEF_AGENT_AGE_KEY: key.identity,
    CLEF_AGENT_TOKEN: TOKEN,
    CLEF_AGENT_CACHE_TTL: '0',
    ...env,
  });
  await agent.listening();
  return { agent, dir };
}

export async function stopJitFileAgent(fa: FileAgent | undefined): Promise<void> {
  if (!fa) return;
  await stopAgent(fa.agent);
  rmSync(fa.dir, { recursive: true, force: true });
}
