/**
 * Backpressure, and an event loop that is never blocked (SPEC §5 reason `overloaded`), against the
 * real agent process in JIT mode with one worker, a queue of 4, and a 1000-key payload of 1 KiB
 * values (every request decrypts and serializes ~1 MB): a flood far beyond capacity gets prompt
 * 503 `overloaded` answers with Retry-After — no timeouts, no resets —, `/v1/health` keeps
 * answering 200 throughout, normal service resumes afterwards, and the agent's memory stays
 * bounded across repeated floods. Functional assertions only: no latency thresholds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AgentProcess, request, rssBytes } from '../kit/index.js';
import { type FileAgent, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';
import { largePayload, outcome, type Outcome, tally } from '../helpers/jit-agent.js';

const KEYS = 1000;
const PAYLOAD = largePayload(KEYS, 1024, 'BP');
const FLOOD = 300;
const FLOOD_ROUTES = ['/v1/secrets', '/v1/keys', '/v1/secrets/app__KEY_000500', '/v1/secrets/KEY_000007'];
const MiB = 1024 * 1024;

describe('JIT backpressure: JIT flood beyond capacity (WORKERS=1, MAX_QUEUE=4, 1000 keys × 1 KiB)', { timeout: 240_000 }, () => {
  let fa: FileAgent | undefined;
  let agent: AgentProcess | undefined;

  before(async () => {
    fa = await startFileAgent({ payload: PAYLOAD, env: { CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_WORKERS: '1', CLEF_AGENT_MAX_QUEUE: '4' }, waitReady: false });
    agent = fa.agent;
    await fa.agent.ready(60_000);
  });
  after(() => fa?.close());

  /** All FLOOD requests at once (one connection each), while health is probed in a loop. */
  async function flood(a: AgentProcess): Promise<{ secrets: Outcome[]; health: Outcome[] }> {
    let done = false;
    const health: Outcome[] = [];
    const prober = (async () => {
      while (!done) health.push(await outcome(request(a.port, '/v1/health', { timeoutMs: 60_000 })));
    })();
    const secrets = await Promise.all(
      Array.from({ length: FLOOD }, (_, i) => outcome(request(a.port, FLOOD_ROUTES[i % FLOOD_ROUTES.length] as string, { token: TOKEN, timeoutMs: 60_000 }))),
    );
    done = true;
    await prober;
    return { secrets, health };
  }

  it(
    'JIT: a flood beyond capacity gets 200s and prompt 503 {"reason":"overloaded"} with Retry-After — no timeouts or resets — and /v1/health answers 200 throughout',
    { timeout: 90_000 },
    async (t) => {
      const a = agent as AgentProcess;
      const { secrets, health } = await flood(a);
      const counts = tally(secrets);
      t.diagnostic(`flood: ${JSON.stringify(counts)}; health probes during it: ${JSON.stringify(tally(health))}`);
      assert.deepEqual(Object.keys(counts).sort(), ['200', '503 overloaded'], 'only successes and overloaded refusals');
      assert.ok((counts['200'] ?? 0) >= 5, 'the worker and the queue were used');
      assert.ok((counts['503 overloaded'] ?? 0) >= FLOOD / 2, 'most of a 300-request burst is refused, not queued');
      for (const o of secrets) if (o.status === 503) assert.equal(o.retryAfter, '1', 'Retry-After on every overloaded answer');
      assert.ok(health.length >= 1, 'health was probed during the flood');
      assert.deepEqual(tally(health), { '200': health.length }, 'every health probe during the flood got 200');
      // Afterwards: normal service, sequentially, nothing left in the queue.
      for (const path of FLOOD_ROUTES) {
        const r = await request(a.port, path, { token: TOKEN });
        assert.equal(r.status, 200, `${path} after the flood: ${r.body.slice(0, 80)}`);
      }
      const all = await request(a.port, '/v1/secrets', { token: TOKEN });
      assert.deepEqual(all.json(), PAYLOAD);
    },
  );

  it(
    'JIT: memory stays bounded: agent RSS stays within 128 MiB of its warmed-up level across 10 rounds of (a 300-request flood + 20 sequential 1 MB /v1/secrets answers)',
    { timeout: 90_000 },
    async (t) => {
      const a = agent as AgentProcess;
      const pid = a.child.pid as number;
      const round = async (i: number): Promise<void> => {
        const { secrets } = await flood(a);
        assert.deepEqual(
          Object.keys(tally(secrets)).filter((k) => k !== '200' && k !== '503 overloaded'),
          [],
          `round ${i}: only 200 and overloaded`,
        );
        // Sequential: every one is served, so a retained body (~1 MB each) would add up to 200 MB.
        for (let j = 0; j < 20; j++) assert.equal((await request(a.port, '/v1/secrets', { token: TOKEN })).body.length > KEYS * 1024, true);
      };
      // Warm-up: heaps and allocator arenas grow to their working size first.
      await round(0);
      const base = rssBytes(pid);
      const samples: number[] = [];
      for (let i = 1; i <= 10; i++) {
        await round(i);
        samples.push(rssBytes(pid));
      }
      // Measured on the reference machine: the main thread's V8 heap stays at ~7 MB after each major
      // GC; RSS moves in a ~50 MB sawtooth driven by the worker's heap (parsing and serializing the
      // 1 MB payload) between its major GCs. A leak of the bodies alone would exceed the bound.
      t.diagnostic(`RSS base ${(base / MiB).toFixed(1)} MiB, after each round: ${samples.map((s) => (s / MiB).toFixed(1)).join(', ')} MiB`);
      assert.ok(Math.max(...samples) - base < 128 * MiB, `RSS grew by ${((Math.max(...samples) - base) / MiB).toFixed(1)} MiB`);
      assert.equal((await request(a.port, '/v1/health')).status, 200);
    },
  );
});
