/**
 * Fixtures for the lifecycle/validation/config suites: a real agent process polling a real local
 * artifact server every 5 s (CACHE_TTL=30, POLL_INTERVAL=5, the smallest allowed values), and
 * helpers to wait for what the agent logs after a given point.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { AgentProcess, type HttpAnswer, type LogLine } from '../kit/index.js';
import { ageKeyPair, artifactJson, type AgeKeyPair, type BuildOptions } from './artifacts.js';

/** Poll settings every polling suite uses. */
export const POLLING_ENV = { CLEF_AGENT_CACHE_TTL: '30', CLEF_AGENT_POLL_INTERVAL: '5' } as const;

/** A fresh 64-hex token per agent, so a log scan can look for it. */
export function newToken(): string {
  return randomBytes(32).toString('hex');
}

/** An agent's environment: this age key, a fresh token, one worker; `extra` last. */
export function agentEnv(identity: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return { CLEF_AGENT_AGE_KEY: identity, CLEF_AGENT_TOKEN: newToken(), CLEF_AGENT_WORKERS: '1', ...extra };
}

/** A polling agent's environment: `agentEnv` with debug logs and POLLING_ENV; `extra` last. */
export function polledAgentEnv(identity: string, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return agentEnv(identity, { CLEF_AGENT_LOG_LEVEL: 'debug', ...POLLING_ENV, ...extra });
}

/** An agent process on `source` (`agentEnv(identity, extra)`), stopped when the test `t` ends. */
export function agentOn(t: { after(fn: () => unknown): void }, source: string, identity: string, extra: Readonly<Record<string, string>> = {}): AgentProcess {
  const agent = new AgentProcess(agentEnv(identity, { CLEF_AGENT_SOURCE: source, ...extra }));
  t.after(() => agent.stop());
  return agent;
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
  const agent = new AgentProcess(polledAgentEnv(key.identity, { CLEF_AGENT_SOURCE: server.url(), ...o.env }));
  const close = async (): Promise<void> => {
    await agent.stop();
    await server.close();
  };
  await agent.started({ waitReady: o.waitReady, cleanup: close });
  const logAfter = (from: number, pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine> => agent.logAfter(from, pred, timeoutMs);
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

/** `/v1/secrets` is 200 with exactly this payload. */
export async function assertServing(p: Polled, payload: unknown): Promise<void> {
  const r = await p.get('/v1/secrets');
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), payload);
  const ready = await p.get('/v1/ready');
  assert.equal(ready.status, 200, ready.body);
}

/**
 * Swapping in `body` is rejected with `code`: the agent logs `artifact.invalid`, keeps serving
 * `kept.payload` (revision `kept.revision`), and `/v1/health` names the failure.
 */
export async function assertRejected(p: Polled, body: string, code: string, kept: { readonly payload: unknown; readonly revision: string }): Promise<void> {
  await p.swap(body, invalid(code));
  await assertServing(p, kept.payload);
  const h = await health(p);
  assert.equal(h.lastError?.code, code);
  assert.equal(h.revision, kept.revision);
}

export interface Health {
  readonly revision: string | null;
  readonly state?: string;
  readonly lastError: { code: string; status?: number; at: number } | null;
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
