/**
 * Fixtures for the lifecycle/validation/config suites: a real agent process polling a real local
 * artifact server every 5 s (CACHE_TTL=30, POLL_INTERVAL=5, the smallest allowed values), and
 * helpers to wait for what the agent logs after a given point.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { AgentProcess, type HttpAnswer, type LogLine } from './agent-process.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson, type AgeKeyPair, type BuildOptions } from './artifacts.js';

/** Poll settings every polling suite uses. */
export const POLLING_ENV = { CLEF_AGENT_CACHE_TTL: '30', CLEF_AGENT_POLL_INTERVAL: '5' } as const;

/** A fresh 64-hex token per agent, so a log scan can look for it. */
export function newToken(): string {
  return randomBytes(32).toString('hex');
}

export interface Polled {
  readonly agent: AgentProcess;
  readonly server: ArtifactServer;
  readonly key: AgeKeyPair;
  /** Build an artifact for this agent's age key. */
  artifact(o: Omit<BuildOptions, 'recipient'> & { recipient?: string }): Promise<string>;
  /** Index into `agent.logs()`: lines at or after it are "new". */
  mark(): number;
  /** The first log line at or after `from` matching `pred`. */
  logAfter(from: number, pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** Swap the served artifact and wait until the agent logged the outcome of fetching it. */
  swap(body: string, pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  get(path: string): Promise<HttpAnswer>;
  close(): Promise<void>;
}

export interface PolledOptions {
  /** The first served artifact's payload (object, or JSON text for `__proto__`-style keys). */
  readonly payload?: unknown;
  /** Extra fields for the first artifact. */
  readonly first?: Omit<BuildOptions, 'recipient' | 'payload'>;
  /** Or: the first artifact's exact bytes (built with `key`). */
  readonly body?: (key: AgeKeyPair) => Promise<string>;
  readonly env?: Record<string, string>;
  /** Wait for the first `artifact.refreshed` (default) or only for `listening`. */
  readonly waitReady?: boolean;
  readonly setup?: (server: ArtifactServer) => void;
  /**
   * Answer the first fetch with an artifact built at the moment it is requested (later fetches
   * get `server.body`): e.g. an `expiresAt` relative to the load, however slow the start-up was.
   */
  readonly firstFetch?: (key: AgeKeyPair) => Promise<string>;
}

/** A server serving the first artifact, and an agent polling it (started, ready). */
export async function startPolled(o: PolledOptions = {}): Promise<Polled> {
  const key = await ageKeyPair();
  const server = await new ArtifactServer().start();
  o.setup?.(server);
  const firstFetch = o.firstFetch;
  if (firstFetch) {
    server.behaviour = {
      kind: 'custom',
      handler: (_req, res) => {
        server.behaviour = { kind: 'serve' };
        void firstFetch(key).then((body) => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(body);
        });
      },
    };
  }
  server.body = o.body
    ? await o.body(key)
    : await artifactJson({ ...o.first, recipient: key.recipient, payload: o.payload ?? { app: { API_KEY: 'first-value' } } });
  const agent = new AgentProcess({
    CLEF_AGENT_SOURCE: server.url(),
    CLEF_AGENT_AGE_KEY: key.identity,
    CLEF_AGENT_TOKEN: newToken(),
    CLEF_AGENT_WORKERS: '1',
    CLEF_AGENT_LOG_LEVEL: 'debug',
    ...POLLING_ENV,
    ...o.env,
  });
  const close = async (): Promise<void> => {
    await stopAgent(agent);
    await server.close();
  };
  try {
    // Generous bounds: a loaded CI machine can take several seconds to start a node process.
    agent.port = (await waitForLogAfter(agent, 0, isEvent('listening'), 30_000))['port'] as number;
    if (o.waitReady !== false) await waitForLogAfter(agent, 0, refreshed(), 30_000);
  } catch (err) {
    await close();
    throw err;
  }
  const logAfter = (from: number, pred: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> => waitForLogAfter(agent, from, pred, timeoutMs);
  return {
    agent,
    server,
    key,
    artifact: (b) => artifactJson({ ...b, recipient: b.recipient ?? key.recipient }),
    mark: () => agent.logs().length,
    logAfter,
    swap: (body, pred, timeoutMs) => {
      const from = agent.logs().length;
      server.body = body;
      return logAfter(from, pred, timeoutMs);
    },
    get: (path) => agent.request(path),
    close,
  };
}

/** The first log line at index ≥ `from` matching `pred`; rejects on exit or after `timeoutMs`. */
export async function waitForLogAfter(agent: AgentProcess, from: number, pred: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const hit = agent.logs().slice(from).find(pred);
    if (hit) return hit;
    if (agent.child.exitCode !== null || agent.child.signalCode !== null) {
      throw new Error(`agent exited (${agent.child.exitCode ?? agent.child.signalCode}) before the expected log line\n${agent.output.slice(-4000)}`);
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for a log line\n${agent.output.slice(-4000)}`);
    await sleep(50);
  }
}

/** Matches the log of a rejected artifact with this reason code. */
export const invalid =
  (code: string) =>
  (l: LogLine): boolean =>
    l.event === 'artifact.invalid' && l['code'] === code;
export const fetchFailed =
  (code: string) =>
  (l: LogLine): boolean =>
    l.event === 'fetch.failed' && l['code'] === code;
export const refreshed =
  (revision?: string) =>
  (l: LogLine): boolean =>
    l.event === 'artifact.refreshed' && (revision === undefined || l['revision'] === revision);
export const isEvent =
  (event: string) =>
  (l: LogLine): boolean =>
    l.event === event;

/**
 * SIGTERM, and SIGKILL after 10 s so a hung agent never outlives the suite. Resolves once all of
 * its output was read, so `agent.stdout`/`stderr` are complete.
 */
export async function stopAgent(agent: AgentProcess): Promise<number | null> {
  const kill = setTimeout(() => agent.child.kill('SIGKILL'), 10_000);
  try {
    await agent.stop('SIGTERM');
    return await agent.closed;
  } finally {
    clearTimeout(kill);
  }
}

/**
 * Wait for a process that must exit by itself: the exit code once all output was read, bounded
 * (SIGKILL after `timeoutMs`).
 */
export async function exitOf(agent: AgentProcess, timeoutMs = 30_000): Promise<number | null> {
  const kill = setTimeout(() => agent.child.kill('SIGKILL'), timeoutMs);
  try {
    return await agent.closed;
  } finally {
    clearTimeout(kill);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Poll `fn` until it returns true (bounded). */
export async function until(fn: () => Promise<boolean> | boolean, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return;
    if (Date.now() > end) throw new Error(`${what} not met within ${timeoutMs} ms`);
    await sleep(50);
  }
}

/** A loopback port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** `{"error","reason"}` with this status and reason. */
export function assertRefused(r: HttpAnswer, status: number, reason: string): void {
  assert.equal(r.status, status, `expected ${status} ${reason}, got ${r.status} ${r.body}`);
  assert.equal(r.json<{ reason?: string }>().reason, reason, r.body);
}

/** `/v1/secrets` is 200 with exactly this payload. */
export async function assertServing(p: Polled, payload: unknown): Promise<void> {
  const r = await p.get('/v1/secrets');
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), payload);
  const ready = await p.get('/v1/ready');
  assert.equal(ready.status, 200, ready.body);
}

export interface Health {
  readonly revision: string | null;
  readonly state?: string;
  readonly lastError: { code: string; message: string; status?: number } | null;
  readonly [k: string]: unknown;
}

export async function health(p: Polled): Promise<Health> {
  const r = await p.get('/v1/health');
  assert.equal(r.status, 200);
  return r.json<Health>();
}

/** An ISO time `offsetMs` from now. */
export function isoIn(offsetMs: number): string {
  return new Date(Date.now() + offsetMs).toISOString();
}
