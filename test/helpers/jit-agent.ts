/**
 * Fixtures for the JIT suites (test/e2e/jit-*.test.ts): the real agent started in this process
 * (`loadConfig` + `startAgent`, a real piscina pool) with its logs captured, bounded bursts, and
 * what a burst's requests ended as.
 */
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { startAgent, type AgentHandle } from '../../src/agent.js';
import { loadConfig } from '../../src/config/index.js';
import { request, waitUntil, type HttpAnswer, type RequestOptions } from '../kit/index.js';

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
  get(path: string, o?: RequestOptions): Promise<HttpAnswer>;
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
  const token = config.token ?? '';
  return {
    handle,
    port: handle.port,
    token,
    logs,
    logAfter: (from, pred, timeoutMs = 20_000) => waitUntil(() => logs.slice(from).find(pred), timeoutMs, 'the expected log entry'),
    get: (path, o = {}) => request(handle.port, path, { token, ...o }),
    close: () => handle.close(),
  };
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

export async function outcome(p: Promise<HttpAnswer>): Promise<Outcome> {
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
