/**
 * SPEC §5.2 per-request decryption, and a client that disconnects mid-request leaks no task,
 * socket or memory.
 *
 * In-process (the real agent and pool in this process): the pool's `run` is wrapped from the test
 * to observe every task the main thread submits and every body a worker returns — so the test can
 * prove that each secrets-route request runs exactly one `serve` task (nothing answered from a
 * main-thread copy), that no other request runs one, and that every returned body is zeroed once
 * written or once its client is gone.
 *
 * Child process: a storm of clients that send a request and vanish leaves no connection open in
 * the agent, no task queued (MAX_QUEUE=4 would turn leftovers into `overloaded`), no error logged,
 * and RSS bounded.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ServeRequest, Task } from '../../common/protocol.js';
import { type AgentProcess, openConnections, request, type RequestOptions, rssBytes, suiteTempDirs, waitUntil } from '../kit/index.js';
import { type FileAgent, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';
import { type InProcessAgent, largePayload, outcome, type Outcome, startInProcess, tally } from '../helpers/jit-agent.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';

const PAYLOAD = largePayload(1000, 1024, 'REQ');
const MiB = 1024 * 1024;

interface Recorder {
  readonly serves: ServeRequest[];
  readonly bodies: Uint8Array[];
  /** Each body's length when it arrived (a body moved back to a worker later reads as length 0). */
  readonly lengths: number[];
  pending: number;
}

/**
 * Wrap the agent's pool calls (the main thread's only way to the workers) to record serve requests
 * and bodies: `run` for other tasks, and `runBatch`, which carries JIT requests alone or batched.
 */
function record(a: InProcessAgent): Recorder {
  const pool = a.handle.pool;
  const rec: Recorder = { serves: [], bodies: [], lengths: [], pending: 0 };
  const run = pool.run.bind(pool) as (task: Task, options?: { deadlineMs?: number }) => Promise<unknown>;
  (pool as unknown as { run: typeof run }).run = async (task, options) => {
    if (task.type !== 'serve' && task.type !== 'serveBatch') return run(task, options);
    throw new Error(`JIT requests go through runBatch, not run (${task.type})`);
  };
  const runBatch = pool.runBatch.bind(pool);
  pool.runBatch = (task, options) => {
    const requests = task.type === 'serve' ? [task.request] : task.requests;
    rec.serves.push(...requests);
    rec.pending += requests.length;
    return runBatch(task, options).map(async (answer) => {
      try {
        const r = await answer;
        if (r.ok && r.status === 200) {
          rec.bodies.push(r.body);
          rec.lengths.push(r.body.byteLength);
        }
        return r;
      } finally {
        rec.pending--;
      }
    });
  };
  return rec;
}

/**
 * Wiped, or moved back to a worker for reuse (src/serving/spare-bodies.ts: detached here, so
 * length 0), which wipes it before it leaves (test/workers/spares.test.ts).
 */
const allZero = (b: Uint8Array): boolean => b.byteLength === 0 || b.every((x) => x === 0);

/** Open a connection, send one request, and vanish `afterMs` later (0: right after writing it). */
function abandon(port: number, path: string, afterMs: number): Promise<void> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port }, () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
      if (afterMs === 0) s.destroy();
      else setTimeout(() => s.destroy(), afterMs);
    });
    s.on('error', () => undefined);
    s.on('close', () => resolve());
  });
}

describe('JIT §5.2 per-request decryption, body wiping and client disconnects (in-process agent, WORKERS=1)', { timeout: 120_000 }, () => {
  const dir = suiteTempDirs('clef-jit-req-').make();
  let agent: InProcessAgent | undefined;
  let rec: Recorder;

  before(async () => {
    const key = await ageKeyPair();
    const path = join(dir, 'artifact.json');
    writeFileSync(path, await artifactJson({ recipient: key.recipient, payload: { ...PAYLOAD, other: { KEY_000001: 'dup' } } }));
    agent = await startInProcess({
      CLEF_AGENT_SOURCE: path,
      CLEF_AGENT_AGE_KEY: key.identity,
      CLEF_AGENT_TOKEN: TOKEN,
      CLEF_AGENT_CACHE_TTL: '0',
      CLEF_AGENT_WORKERS: '1',
    });
    rec = record(agent);
  });
  after(async () => {
    await agent?.close();
  });

  it(
    'JIT §5.2 every secrets-route request (HEAD, /v1/keys, 404 and 409 lookups included) runs exactly one worker decryption; health, ready and refused requests run none',
    { timeout: 60_000 },
    async () => {
      const a = agent as InProcessAgent;
      const cases: [string, RequestOptions, number, ServeRequest | undefined][] = [
        ['/v1/secrets', {}, 200, { route: 'secrets' }],
        ['/v1/secrets', { method: 'HEAD' }, 200, { route: 'secrets' }],
        ['/v1/keys', {}, 200, { route: 'keys' }],
        ['/v1/keys', { method: 'HEAD' }, 200, { route: 'keys' }],
        ['/v1/secrets/app__KEY_000002', {}, 200, { route: 'secret', name: 'app__KEY_000002', plain: false }],
        ['/v1/secrets/app%2FKEY_000002', { headers: { accept: 'text/plain' } }, 200, { route: 'secret', name: 'app/KEY_000002', plain: true }],
        ['/v1/secrets/KEY_000001', {}, 409, { route: 'secret', name: 'KEY_000001', plain: false }],
        ['/v1/secrets/NOPE', { method: 'HEAD' }, 404, { route: 'secret', name: 'NOPE', plain: false }],
        ['/v1/health', { token: '' }, 200, undefined],
        ['/v1/ready', { token: '' }, 200, undefined],
        ['/v1/secrets', { token: '' }, 401, undefined],
        ['/v1/secrets', { headers: { host: 'evil.example' } }, 403, undefined],
        ['/v1/keys', { method: 'POST' }, 405, undefined],
        ['/v1/secrets', { headers: { 'x-forwarded-for': '10.1.1.1' } }, 400, undefined],
        ['/v1/nope', {}, 404, undefined],
      ];
      for (let round = 0; round < 3; round++) {
        for (const [path, o, status, task] of cases) {
          const before = rec.serves.length;
          const r = await a.get(path, o);
          assert.equal(r.status, status, `${o.method ?? 'GET'} ${path}`);
          assert.deepEqual(rec.serves.slice(before), task ? [task] : [], `${o.method ?? 'GET'} ${path} (round ${round}): worker tasks run`);
        }
      }
    },
  );

  it('JIT §5.2 every body a worker returned is zeroed once written (the main thread keeps no plaintext)', { timeout: 60_000 }, async () => {
    const a = agent as InProcessAgent;
    const start = rec.bodies.length;
    for (let i = 0; i < 10; i++) assert.equal((await a.get(i % 2 ? '/v1/keys' : '/v1/secrets')).status, 200);
    const bodies = rec.bodies.slice(start);
    assert.equal(bodies.length, 10);
    assert.ok(
      rec.lengths.slice(start).every((n) => n > 10_000),
      'real bodies',
    );
    await waitUntil(() => bodies.every(allZero) || undefined, 5_000, 'zeroed bodies');
  });

  it(
    'JIT: clients that disconnect mid-request: no worker is terminated, no task stays queued, and every body made for them is zeroed',
    { timeout: 60_000 },
    async (t) => {
      const a = agent as InProcessAgent;
      const idsBefore = a.handle.pool.threads.map((w) => w.threadId);
      const servesBefore = rec.serves.length;
      const bodiesBefore = rec.bodies.length;
      await Promise.all(Array.from({ length: 60 }, (_, i) => abandon(a.port, i % 3 === 0 ? '/v1/keys' : '/v1/secrets', i % 5)));
      await waitUntil(() => (rec.pending === 0 && a.handle.pool.queued === 0) || undefined, 30_000, 'every task finished');
      const bodies = rec.bodies.slice(bodiesBefore);
      t.diagnostic(`requests the agent received: ${rec.serves.length - servesBefore} of 60; bodies made: ${bodies.length}`);
      assert.ok(rec.serves.length - servesBefore >= 30, 'most abandoned requests reached the pool');
      assert.ok(bodies.length >= 30);
      // A body whose client is gone is wiped, not just dropped.
      await waitUntil(() => bodies.every(allZero) || undefined, 5_000, 'zeroed bodies').catch(() => undefined);
      assert.equal(bodies.filter((b) => !allZero(b)).length, 0, 'bodies left unwiped after their client disconnected');
      assert.deepEqual(
        a.handle.pool.threads.map((w) => w.threadId),
        idsBefore,
        'a disconnect does not terminate the worker (the task runs to completion; its body is wiped)',
      );
      assert.equal(openConnections(process.pid, a.port), 0, 'no connection left open on the agent port');
      assert.deepEqual(tally(await Promise.all(Array.from({ length: 10 }, () => outcome(a.get('/v1/secrets'))))), { '200': 10 });
    },
  );
});

describe('JIT client disconnect storm against the agent process (WORKERS=1, MAX_QUEUE=4)', { timeout: 180_000 }, () => {
  let fa: FileAgent | undefined;
  let agent: AgentProcess | undefined;

  before(async () => {
    fa = await startFileAgent({
      payload: PAYLOAD,
      env: { CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_WORKERS: '1', CLEF_AGENT_MAX_QUEUE: '4', CLEF_AGENT_LOG_LEVEL: 'debug' },
      waitReady: false,
    });
    agent = fa.agent;
    await fa.agent.ready(60_000);
  });
  after(() => fa?.close());

  it(
    'JIT: 1 600 clients that send a request and vanish leave no connection open, no task queued, no error logged, and RSS bounded',
    { timeout: 60_000 },
    async (t) => {
      const a = agent as AgentProcess;
      const pid = a.child.pid as number;
      const storm = async (): Promise<void> => {
        for (let batch = 0; batch < 8; batch++) {
          await Promise.all(
            Array.from({ length: 50 }, (_, i) => abandon(a.port, ['/v1/secrets', '/v1/keys', '/v1/secrets/KEY_000003'][i % 3] as string, i % 7)),
          );
        }
      };
      const settled = async (): Promise<void> => {
        await waitUntil(() => openConnections(pid, a.port) === 0 || undefined, 30_000, 'no connection left open');
        // Leftover tasks would keep the 4-slot queue full: wait until a request is served, then demand all are.
        await waitUntil(async () => (await request(a.port, '/v1/secrets', { token: TOKEN })).status === 200 || undefined, 30_000, 'served again');
        // One at a time: five at once would sit exactly at the 1-worker + 4-queued capacity, where a
        // task still finishing from the storm makes one of them a legitimate 503 overloaded.
        const after: Outcome[] = [];
        for (let i = 0; i < 5; i++) after.push(await outcome(request(a.port, i % 2 ? '/v1/keys' : '/v1/secrets', { token: TOKEN })));
        assert.deepEqual(tally(after), { '200': 5 });
      };
      assert.equal(openConnections(pid, a.port), 0, 'baseline: no client connection');
      await storm(); // warm-up: heaps and allocator arenas reach their working size
      await settled();
      const base = rssBytes(pid);
      const samples: number[] = [];
      for (let i = 0; i < 3; i++) {
        await storm();
        await settled();
        samples.push(rssBytes(pid));
      }
      t.diagnostic(`RSS base ${(base / MiB).toFixed(1)} MiB, after each storm: ${samples.map((s) => (s / MiB).toFixed(1)).join(', ')} MiB`);
      assert.ok(Math.max(...samples) - base < 128 * MiB, `RSS grew by ${((Math.max(...samples) - base) / MiB).toFixed(1)} MiB`);
      const h = await request(a.port, '/v1/health');
      assert.equal(h.status, 200);
      assert.equal(h.json<{ state: string }>().state, 'ok');
      const errors = a.logs().filter((l) => l.level === 'error' || l.level === 'fatal' || l.event === 'request.failed');
      assert.deepEqual(errors, [], 'no unexpected error while answering vanished clients');
    },
  );
});
