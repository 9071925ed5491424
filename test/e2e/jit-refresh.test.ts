/**
 * SPEC §4.3 / §5.2 in JIT mode with the real agent running in this process (real piscina pool),
 * polling a real HTTP artifact server every 5 s: a swapped artifact is picked up at the next poll;
 * every request is answered entirely from the artifact current when it arrived; revocation and
 * expiry stop serving at once and replace every worker (`pool.recycle()`, so no worker-side key
 * cache survives); MAX_STALE without a successful refresh stops serving until the source is back.
 */
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { describe, it } from 'node:test';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson, type AgeKeyPair, type BuildOptions } from '../helpers/artifacts.js';
import { waitUntil } from '../kit/index.js';
import { type InProcessAgent, jitHttpEnv, type LogEntry, startInProcess } from '../helpers/jit-agent.js';

const TOKEN = 'a11ce'.repeat(13);
const SECRET_ROUTES = ['/v1/secrets', '/v1/keys', '/v1/secrets/app__K0', '/v1/secrets/K1'];

interface Rig {
  readonly agent: InProcessAgent;
  readonly server: ArtifactServer;
  readonly key: AgeKeyPair;
  artifact(o: Omit<BuildOptions, 'recipient'>): Promise<string>;
  /** Serve `body` from now on and wait for the agent's log entry about it. */
  swap(body: string, pred: (l: LogEntry) => boolean, timeoutMs?: number): Promise<LogEntry>;
  close(): Promise<void>;
}

async function rig(payload: unknown, env: Record<string, string> = {}, first: Omit<BuildOptions, 'recipient' | 'payload'> = {}): Promise<Rig> {
  const key = await ageKeyPair();
  const server = await new ArtifactServer().start();
  server.body = await artifactJson({ ...first, recipient: key.recipient, payload });
  let agent: InProcessAgent;
  try {
    agent = await startInProcess(jitHttpEnv(server.url(), key.identity, TOKEN, { CLEF_AGENT_WORKERS: '2', ...env }));
  } catch (err) {
    await server.close();
    throw err;
  }
  return {
    agent,
    server,
    key,
    artifact: (o) => artifactJson({ ...o, recipient: key.recipient }),
    swap: (body, pred, timeoutMs) => {
      const from = agent.logs.length;
      server.body = body;
      return agent.logAfter(from, pred, timeoutMs);
    },
    close: async () => {
      await agent.close();
      await server.close();
    },
  };
}

const event =
  (name: string) =>
  (l: LogEntry): boolean =>
    l.event === name;
const refreshed =
  (revision: string) =>
  (l: LogEntry): boolean =>
    l.event === 'artifact.refreshed' && l['revision'] === revision;

function threadIds(a: InProcessAgent): number[] {
  return a.handle.pool.threads.map((t) => t.threadId).sort((x, y) => x - y);
}

/** Resolves once every given worker has exited. */
function allExited(workers: readonly Worker[]): Promise<void> {
  return Promise.all(workers.map((w) => (w.threadId === -1 ? Promise.resolve() : new Promise<void>((r) => w.once('exit', () => r()))))).then(() => undefined);
}

async function assertRefusedEverywhere(a: InProcessAgent, reason: string): Promise<void> {
  for (const path of SECRET_ROUTES) {
    for (const method of ['GET', 'HEAD']) {
      const r = await a.get(path, { method });
      assert.equal(r.status, 503, `${method} ${path}: ${r.body}`);
      if (method === 'GET') assert.equal(r.json<{ reason: string }>().reason, reason);
    }
  }
  assert.deepEqual((await a.get('/v1/ready')).json(), { ready: false, reason });
  assert.equal((await a.get('/v1/health', { token: '' })).status, 200, 'health keeps answering');
}

const payload = (tag: string): Record<string, Record<string, string>> => ({
  app: Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`K${i}`, `${tag}-value-${i}-${'z'.repeat(i * 8)}`])),
  [`only_${tag}`]: { MARK: tag },
});

describe('JIT §4.3/§5.2 refresh, revocation, expiry and staleness (in-process agent, HTTP source, POLL_INTERVAL=5)', { concurrency: false }, () => {
  it(
    'JIT §5.2 a swapped artifact is picked up at the next poll, and every answer during the swap is entirely A or entirely B',
    { timeout: 60_000 },
    async (t) => {
      const A = payload('A');
      const B = payload('B');
      const r = await rig(A);
      t.after(() => r.close());
      const bodies = {
        '/v1/secrets': [JSON.stringify(A), JSON.stringify(B)],
        '/v1/keys': [
          JSON.stringify(
            Object.keys(A)
              .flatMap((ns) => Object.keys(A[ns] ?? {}).map((k) => `${ns}__${k}`))
              .sort(),
          ),
          JSON.stringify(
            Object.keys(B)
              .flatMap((ns) => Object.keys(B[ns] ?? {}).map((k) => `${ns}__${k}`))
              .sort(),
          ),
        ],
        '/v1/secrets/app__K39': [JSON.stringify({ key: 'app__K39', value: A['app']?.['K39'] }), JSON.stringify({ key: 'app__K39', value: B['app']?.['K39'] })],
      } as const;
      const seen = { A: 0, B: 0, afterRefreshA: 0 };
      let accepted = false; // set once B was accepted
      const hardStop = Date.now() + 40_000;
      let stopAfter = Infinity;
      const client = async (path: keyof typeof bodies): Promise<void> => {
        while (Date.now() < hardStop && Date.now() < stopAfter) {
          const arrivedAfterSwap = accepted;
          const res = await r.agent.get(path);
          assert.equal(res.status, 200, res.body);
          const text = res.body;
          if (text === bodies[path][0]) {
            seen.A++;
            if (arrivedAfterSwap) seen.afterRefreshA++;
          } else if (text === bodies[path][1]) seen.B++;
          else assert.fail(`${path}: an answer is neither entirely A nor entirely B: ${text.slice(0, 160)}`);
        }
      };
      const clients = (['/v1/secrets', '/v1/keys', '/v1/secrets/app__K39'] as const).flatMap((p) => [client(p), client(p)]);
      const fetchesBefore = r.server.requests.length;
      const entry = await r.swap(await r.artifact({ payload: B, revision: 'rev-B' }), refreshed('rev-B'), 20_000);
      accepted = true;
      stopAfter = Date.now() + 2_000;
      await Promise.all(clients);
      t.diagnostic(`answers: ${JSON.stringify(seen)}`);
      assert.equal(entry['trigger'], 'poll', 'picked up by a poll, not at start-up or on request');
      assert.equal(r.server.requests.length - fetchesBefore, 1, 'the first fetch after the swap brought B (the next poll)');
      assert.ok(seen.A > 0 && seen.B > 0, 'the hammer saw both artifacts');
      assert.equal(seen.afterRefreshA, 0, 'a request that arrived after B was accepted is never answered from A');
      assert.deepEqual((await r.agent.get('/v1/health', { token: '' })).json<Record<string, unknown>>()['revision'], 'rev-B');
    },
  );

  it('JIT §4.3 step 1 revocation: 503 "revoked" right after the poll, and pool.recycle() replaced every worker', { timeout: 60_000 }, async (t) => {
    const r = await rig(payload('R'), {}, { packedAt: new Date(Date.now() - 60_000).toISOString() });
    t.after(() => r.close());
    assert.equal((await r.agent.get('/v1/secrets')).status, 200);
    const oldWorkers = [...r.agent.handle.pool.threads];
    const oldIds = threadIds(r.agent);
    assert.equal(oldIds.length, 2);
    const oldGone = allExited(oldWorkers);
    const revoked = JSON.stringify({ ...(JSON.parse(r.server.body) as object), revokedAt: new Date().toISOString() });
    await r.swap(revoked, event('artifact.revoked'));
    // Immediately: no further poll, no grace period.
    await assertRefusedEverywhere(r.agent, 'revoked');
    const newIds = threadIds(r.agent);
    assert.equal(newIds.length, 2, 'a full pool again');
    assert.deepEqual(
      newIds.filter((id) => oldIds.includes(id)),
      [],
      'no worker of the old pool is still in the pool',
    );
    await oldGone; // bounded by the test timeout: the old workers really exit, with their key caches
    const next = payload('R2');
    await r.swap(await r.artifact({ payload: next, revision: 'rev-after' }), refreshed('rev-after'));
    const res = await r.agent.get('/v1/secrets');
    assert.equal(res.status, 200);
    assert.deepEqual(res.json(), next, 'a later artifact ends the revocation, served by the new workers');
  });

  it('JIT §4.3 step 4 expiry: once expiresAt passes, 503 "expired" on every secrets route and the workers are replaced', { timeout: 60_000 }, async (t) => {
    const r = await rig(payload('E'), {}, { expiresAt: new Date(Date.now() + 6_000).toISOString() });
    t.after(() => r.close());
    assert.equal((await r.agent.get('/v1/secrets')).status, 200, 'served before expiresAt');
    const oldIds = threadIds(r.agent);
    const oldGone = allExited([...r.agent.handle.pool.threads]);
    const from = r.agent.logs.length;
    await r.agent.logAfter(from, event('artifact.expired'), 30_000);
    await assertRefusedEverywhere(r.agent, 'expired');
    assert.equal((await r.agent.get('/v1/health', { token: '' })).json<Record<string, unknown>>()['expired'], true);
    assert.deepEqual(
      threadIds(r.agent).filter((id) => oldIds.includes(id)),
      [],
      'workers replaced on expiry',
    );
    await oldGone;
  });

  it(
    'JIT §4.3 CLEF_AGENT_MAX_STALE=10: with the source failing, 503 "cache_expired" once 10 s pass without a successful refresh; served again when it returns',
    { timeout: 90_000 },
    async (t) => {
      const P = payload('S');
      const r = await rig(P, { CLEF_AGENT_MAX_STALE: '10' });
      t.after(() => r.close());
      const lastRefreshAt = (await r.agent.get('/v1/health', { token: '' })).json<{ lastRefreshAt: number }>().lastRefreshAt;
      const from = r.agent.logs.length;
      r.server.behaviour = { kind: 'status', status: 500 };
      await r.agent.logAfter(from, (l) => l.event === 'fetch.failed' && l['code'] === 'fetch_status', 30_000);
      // A failed poll alone does not stop serving while the last success is younger than MAX_STALE.
      if (Date.now() - lastRefreshAt < 8_000) assert.equal((await r.agent.get('/v1/secrets')).status, 200, 'still fresh after one failed poll');
      await waitUntil(async () => (await r.agent.get('/v1/ready')).status === 503 || undefined, 30_000, 'stale');
      assert.ok(Date.now() - lastRefreshAt >= 10_000, 'not before MAX_STALE seconds without a successful refresh');
      await assertRefusedEverywhere(r.agent, 'cache_expired');
      const h = (await r.agent.get('/v1/health', { token: '' })).json<Record<string, unknown>>();
      assert.equal(h['state'], 'cache_expired');
      assert.equal(h['expired'], true);
      assert.equal((h['lastError'] as { code?: string } | null)?.code, 'fetch_status');
      r.server.behaviour = { kind: 'serve' };
      await waitUntil(async () => (await r.agent.get('/v1/ready')).status === 200 || undefined, 30_000, 'recovered');
      const res = await r.agent.get('/v1/secrets');
      assert.equal(res.status, 200);
      assert.deepEqual(res.json(), P);
    },
  );
});
