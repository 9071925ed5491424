/**
 * The real refresh loop wired to a real serving mode, as src/agent.ts wires them, but with a
 * scripted pool, a fake clock and a captured log: no workers, no source, no waiting.
 */
import { pino, type Logger } from 'pino';
import type { Reason } from '../../common/reasons.js';
import { ApiError } from '../../src/errors.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { Refresher } from '../../src/refresh/refresher.js';
import { CachedMode } from '../../src/serving/cached.js';
import { JitMode } from '../../src/serving/jit.js';
import type { Body } from '../../src/serving/mode.js';
import type { WorkerPool } from '../../src/pool.js';
import { FakeTime } from './fake-time.js';
import { loaded, meta, ScriptedPool } from './scripted-pool.js';

export interface LogLine {
  readonly event?: string;
  readonly [k: string]: unknown;
}

/** A real pino logger whose lines are kept, parsed, for assertions. */
export function capturedLog(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { log, lines };
}

/** A valid configuration for a file source; `env` adds or overrides variables. */
export function config(env: Record<string, string> = {}): Config {
  return loadConfig(
    { CLEF_AGENT_SOURCE: '/srv/clef/artifact.json', CLEF_AGENT_TOKEN: 'tok_0123456789abcdefghijklmnopqrstuvwxyzAB', CLEF_AGENT_WORKERS: '1', ...env },
    { cwd: '/srv/app' },
  );
}

interface Rig<M> {
  readonly time: FakeTime;
  readonly pool: ScriptedPool;
  readonly mode: M;
  readonly refresher: Refresher;
  readonly lines: LogLine[];
  /** Log lines with this event, in order. */
  events(event: string): LogLine[];
}

function rig<M>(
  env: Record<string, string>,
  makeMode: (c: Config, time: FakeTime, pool: ScriptedPool) => M & ConstructorParameters<typeof Refresher>[2],
): Rig<M> {
  const time = new FakeTime();
  const pool = new ScriptedPool();
  const { log, lines } = capturedLog();
  const c = config(env);
  const mode = makeMode(c, time, pool);
  const refresher = new Refresher(pool, c, mode, log, time.now, time);
  return { time, pool, mode, refresher, lines, events: (event) => lines.filter((l) => l.event === event) };
}

/** Cached mode (CACHE_TTL=30 and polls every 5 s unless `env` says otherwise). */
export function cachedRig(env: Record<string, string> = {}): Rig<CachedMode> {
  const r = rig({ CLEF_AGENT_CACHE_TTL: '30', ...env }, (c, time) => new CachedMode(c.cacheTtl, time.now, time));
  r.mode.attach(r.refresher);
  return r;
}

/**
 * A cached rig that loaded `payload` (revision `rev-a`, packed a minute earlier) at the fake
 * clock's start, and polls.
 */
export async function pollingCached(payload: unknown, env: Record<string, string> = {}): Promise<Rig<CachedMode>> {
  const r = cachedRig(env);
  const a = meta('rev-a', { packedAtMs: r.time.now() - 60_000 });
  r.pool.source = () => loaded(a, payload);
  const first = await r.refresher.refresh('startup');
  if (!first.ok || first.outcome !== 'loaded') throw new Error('the scripted first load failed');
  r.refresher.startPolling();
  return r;
}

/** JIT mode (MAX_STALE=10, polls every 5 s unless `env` says otherwise). */
export function jitRig(env: Record<string, string> = {}): Rig<JitMode> {
  const r = rig(
    { CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_MAX_STALE: '10', ...env },
    // JitMode takes the pool class; the scripted pool has the methods it calls (`admit`, `runBatch`, `size`).
    (c, time, pool) => new JitMode(pool as unknown as WorkerPool, c.maxStale, c.decryptTimeoutMs, time.now),
  );
  r.mode.attach(r.refresher);
  return r;
}

/** A body's bytes as text. */
export function text(b: Body): string {
  return b.bytes.toString('utf8');
}

/** The mode's answer, whether it came synchronously or after a wait. */
export async function answer(call: () => Body | Promise<Body>): Promise<Body> {
  return call();
}

/** Asserts the call is refused with this API reason (thrown at once or rejected later). */
export async function refusal(call: () => unknown): Promise<Reason> {
  try {
    await call();
  } catch (err) {
    if (err instanceof ApiError) return err.reason;
    throw err;
  }
  throw new Error('expected an ApiError, got an answer');
}
