/**
 * Faults in JIT mode, with the real agent running in this process (real piscina pool), faults
 * injected from the test, never by a switch in production code:
 *  - a worker killed mid-flight (`handle.pool.threads[i].terminate()`): the requests it held (up
 *    to TASKS_PER_WORKER tasks of up to JIT_BATCH_MAX requests each) get 503 `decrypt_failed`,
 *    queued ones are still served, piscina replaces the worker, and the agent keeps serving;
 *  - a task slower than CLEF_AGENT_DECRYPT_TIMEOUT_MS (a 100 000-key payload with a 100 ms
 *    deadline): 503 `timeout` on every secrets route, the worker running it is terminated and
 *    replaced, /v1/health answers 200 throughout, and once the source serves a small artifact
 *    requests succeed again. (The deadline counts from arrival, so a request that waits for a
 *    replacement worker to boot — ~150 ms here — can also time out while still queued; which of
 *    the two happened is not asserted per request.)
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';
import { suiteTempDirs, waitUntil, sleep } from '../kit/index.js';
import { type InProcessAgent, jitHttpEnv, largePayload, type LogEntry, outcome, type Outcome, startInProcess, tally } from '../helpers/jit-agent.js';
import { JIT_BATCH_MAX, TASKS_PER_WORKER } from '../../common/limits.js';

/** Requests one worker holds at most: its tasks, each a batch of requests that arrived together. */
const HELD = TASKS_PER_WORKER * JIT_BATCH_MAX;

const TOKEN = 'f4u17'.repeat(10);

function ids(a: InProcessAgent): number[] {
  return a.handle.pool.threads.map((t) => t.threadId);
}

/** Health probed in a loop until `stop()`; resolves with every outcome. */
function healthLoop(a: InProcessAgent): { stop(): Promise<Outcome[]> } {
  let done = false;
  const seen: Outcome[] = [];
  const loop = (async () => {
    while (!done) {
      seen.push(await outcome(a.get('/v1/health', { token: '' })));
      await sleep(5);
    }
  })();
  return {
    stop: async () => {
      done = true;
      await loop;
      return seen;
    },
  };
}

describe('JIT faults: a worker killed mid-flight (in-process agent, WORKERS=2, 3000 keys × 1 KiB)', { timeout: 120_000 }, () => {
  // Large enough that 40 requests keep both workers full and the queue non-empty for a while.
  const PAYLOAD = largePayload(3000, 1024, 'KILL');
  const dir = suiteTempDirs('clef-jit-faults-').make();
  let agent: InProcessAgent | undefined;

  before(async () => {
    const key = await ageKeyPair();
    const path = join(dir, 'artifact.json');
    writeFileSync(path, await artifactJson({ recipient: key.recipient, payload: PAYLOAD }));
    agent = await startInProcess({
      CLEF_AGENT_SOURCE: path,
      CLEF_AGENT_AGE_KEY: key.identity,
      CLEF_AGENT_TOKEN: TOKEN,
      CLEF_AGENT_CACHE_TTL: '0',
      CLEF_AGENT_WORKERS: '2',
      // What is tested is which requests a killed worker takes down, not the deadline: 40 requests
      // of 3 MB each, queued behind a replacement worker's boot on a loaded 2-core machine, can
      // outlast the default 5 s, so the deadline is out of the way here (the next suite tests it).
      CLEF_AGENT_DECRYPT_TIMEOUT_MS: '60000',
      // Above the largest burst killDuringBurst may send (10 × 40): with the default 256, a burst
      // that had to grow past it got 503 overloaded answers (CI, Node 26: a burst of 320).
      CLEF_AGENT_MAX_QUEUE: '1000',
    });
  });
  after(async () => {
    await agent?.close();
  });

  /**
   * At least 40 concurrent /v1/secrets; once both workers are busy and tasks are queued, kill
   * `victims`. `size` is how many requests the burst that was hit had.
   */
  async function killDuringBurst(a: InProcessAgent, pick: (threads: number) => number[]): Promise<{ outcomes: Outcome[]; killed: number[]; size: number }> {
    const pool = a.handle.pool;
    // Both workers hold their full share of tasks while anything waits in the queue. Checked on
    // every turn of the (shared) event loop; on a loaded machine — or a fast runtime, once the
    // plaintext is known to be the body — a burst can drain before it ever queues, so a burst
    // that does is retried, 40 requests bigger each time (up to ten times: on Node 26 in CI six
    // bursts of up to 240 once all drained).
    let requests: Promise<Outcome>[] = [];
    let size = 0;
    for (let burst = 1; ; burst++) {
      size = 40 * burst;
      requests = Array.from({ length: size }, () => outcome(a.get('/v1/secrets')));
      let settled = false;
      void Promise.all(requests).then(() => (settled = true));
      await waitUntil(() => pool.queued > 0 || settled, 20_000, 'a busy pool or a drained burst', 0);
      if (!settled) break;
      if (burst === 10) throw new Error(`ten bursts of up to ${size} requests never filled the pool`);
    }
    const victims = pick(pool.threads.length)
      .map((i) => pool.threads[i])
      .filter((w) => w !== undefined);
    const killed = victims.map((w) => w.threadId);
    await Promise.all(victims.map((w) => w.terminate()));
    return { outcomes: await Promise.all(requests), killed, size };
  }

  async function assertRecovered(a: InProcessAgent, killed: readonly number[]): Promise<void> {
    // piscina replaces the dead workers: the configured count again, none of the killed ones.
    await waitUntil(() => (ids(a).length === 2 && !ids(a).some((id) => killed.includes(id))) || undefined, 20_000, 'replaced workers');
    const after = await Promise.all(Array.from({ length: 20 }, () => outcome(a.get('/v1/secrets'))));
    assert.deepEqual(tally(after), { '200': 20 }, 'the agent keeps serving');
    const r = await a.get('/v1/secrets');
    assert.deepEqual(r.json(), PAYLOAD);
    assert.equal((await a.get('/v1/health', { token: '' })).status, 200);
    assert.equal((await a.get('/v1/ready', { token: '' })).status, 200);
  }

  it(
    'JIT: killing one worker mid-flight: the requests it held get 503 decrypt_failed, the rest 200, the worker is replaced and the agent keeps serving',
    { timeout: 60_000 },
    async (t) => {
      const a = agent as InProcessAgent;
      const { outcomes, killed, size } = await killDuringBurst(a, () => [0]);
      const counts = tally(outcomes);
      t.diagnostic(`burst with one worker killed: ${JSON.stringify(counts)}`);
      assert.deepEqual(
        Object.keys(counts).filter((k) => k !== '200' && k !== '503 decrypt_failed'),
        [],
        'no other outcome: no reset, no timeout, no 500',
      );
      assert.ok((counts['503 decrypt_failed'] ?? 0) >= 1, 'the request running on the killed worker failed with 503 decrypt_failed');
      assert.ok((counts['503 decrypt_failed'] ?? 0) <= HELD, 'only the requests the killed worker held failed');
      assert.ok((counts['200'] ?? 0) >= size - HELD, 'queued requests were still served');
      await assertRecovered(a, killed);
    },
  );

  it(
    'JIT: killing every worker at once mid-flight: only their running requests fail (503), queued ones are served by the replacements',
    { timeout: 60_000 },
    async (t) => {
      const a = agent as InProcessAgent;
      const { outcomes, killed, size } = await killDuringBurst(a, (n) => Array.from({ length: n }, (_, i) => i));
      const counts = tally(outcomes);
      t.diagnostic(`burst with every worker killed: ${JSON.stringify(counts)}`);
      assert.equal(killed.length, 2);
      assert.deepEqual(
        Object.keys(counts).filter((k) => k !== '200' && k !== '503 decrypt_failed'),
        [],
      );
      const failed = counts['503 decrypt_failed'] ?? 0;
      assert.ok(failed >= 1 && failed <= 2 * HELD, 'only the requests the killed workers held failed');
      assert.ok((counts['200'] ?? 0) >= size - 2 * HELD, 'queued requests were served by the replacements');
      await assertRecovered(a, killed);
    },
  );
});

describe(
  'JIT faults: CLEF_AGENT_DECRYPT_TIMEOUT_MS=100 with a decryption that takes longer (in-process agent, HTTP source, WORKERS=1)',
  { timeout: 180_000 },
  () => {
    // ~45 MB of plaintext in 100 000 keys: parsing and serializing it takes several times 100 ms.
    const BIG = largePayload(100_000, 400, 'SLOW');
    const SMALL = { app: { API_KEY: 'small-after-timeouts', OTHER: 'x' } };
    let server: ArtifactServer;
    let agent: InProcessAgent | undefined;
    let smallBody: string;

    before(async () => {
      const key = await ageKeyPair();
      server = await new ArtifactServer().start();
      server.body = await artifactJson({ recipient: key.recipient, payload: BIG, revision: 'rev-big', packedAt: new Date(Date.now() - 60_000).toISOString() });
      smallBody = await artifactJson({ recipient: key.recipient, payload: SMALL, revision: 'rev-small' });
      agent = await startInProcess(
        jitHttpEnv(server.url(), key.identity, TOKEN, {
          CLEF_AGENT_DECRYPT_TIMEOUT_MS: '100',
          CLEF_AGENT_MAX_ARTIFACT_BYTES: String(256 * 1024 * 1024),
        }),
      );
    });
    after(async () => {
      await agent?.close();
      await server?.close();
    });

    it(
      'JIT: a decryption past the deadline answers 503 "timeout" on every secrets route (GET, HEAD, text/plain, /v1/keys, 404 lookup); the worker running it is replaced; health stays 200; a small artifact is served again',
      { timeout: 60_000 },
      async (t) => {
        const a = agent as InProcessAgent;
        assert.equal(server.body.length > 50 * 1024 * 1024, true, 'a large artifact');
        const firstIds = ids(a);
        const health = healthLoop(a);
        const cases: [string, Record<string, string> | undefined, string | undefined][] = [
          ['/v1/secrets', undefined, undefined],
          ['/v1/keys', undefined, undefined],
          ['/v1/secrets/app__KEY_000042', undefined, undefined],
          ['/v1/secrets/KEY_000042', { accept: 'text/plain' }, undefined],
          ['/v1/secrets/NOPE', undefined, undefined],
          ['/v1/secrets', undefined, 'HEAD'],
          ['/v1/keys', undefined, 'HEAD'],
          ['/v1/secrets', undefined, undefined],
        ];
        const seenIds = new Set<number>(firstIds);
        for (const [path, headers, method] of cases) {
          const r = await a.get(path, { ...(headers ? { headers } : {}), ...(method ? { method } : {}) });
          assert.equal(r.status, 503, `${method ?? 'GET'} ${path}: ${r.status} ${r.body.slice(0, 80)}`);
          if (method !== 'HEAD') assert.deepEqual(r.json(), { error: 'timed out', reason: 'timeout' });
          for (const id of ids(a)) seenIds.add(id);
        }
        const probes = await health.stop();
        t.diagnostic(`health during the timeouts: ${JSON.stringify(tally(probes))}; worker ids seen: ${[...seenIds].join(',')}`);
        assert.ok(probes.length >= cases.length, 'health was probed throughout');
        assert.deepEqual(tally(probes), { '200': probes.length }, 'health answered 200 throughout');
        // The worker running a timed-out task is terminated and replaced (one worker configured).
        await waitUntil(() => (ids(a).length === 1 && !firstIds.includes(ids(a)[0] as number)) || undefined, 20_000, 'a replaced worker');
        assert.ok(seenIds.size >= 2, 'timed-out tasks were running: their workers were terminated and replaced');

        const from = a.logs.length;
        server.body = smallBody;
        await a.logAfter(from, (l: LogEntry) => l.event === 'artifact.refreshed' && l['revision'] === 'rev-small', 30_000);
        for (const path of ['/v1/secrets', '/v1/keys', '/v1/secrets/API_KEY']) assert.equal((await a.get(path)).status, 200, path);
        assert.deepEqual((await a.get('/v1/secrets')).json(), SMALL);
      },
    );
  },
);
