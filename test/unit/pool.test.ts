/**
 * WorkerPool (src/pool.ts) directly, with real workers: a full queue answers `overloaded` at once,
 * a passed deadline answers `task_timeout` and a task still stuck one deadline later gets the
 * workers replaced (bystanders re-run on the new ones), and `recycle` replaces every worker while
 * the old ones finish what they run. Tasks are made to hang on a local source that holds every
 * request until the test answers it. JIT batches (`admit` + `runBatch`): the queue bound counts
 * their requests, each request has its own deadline, and a batch is a bystander or a casualty as
 * a whole task, with one answer per request.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { after, afterEach, before, describe, test } from 'node:test';
import type { EncryptedArtifact, LoadTask, ServeRequest, ServeResult, WorkerInit } from '../../common/protocol.js';
import { TASKS_PER_WORKER, WORKER_YOUNG_GENERATION_MB } from '../../common/limits.js';
import { WorkerPool } from '../../src/pool.js';
import { idleWorkersExit } from '../../src/pool.js';
import { ageKeygen, ageLibEncrypt, inlineKey, sha256Hex, type AgeKeyPair } from '../workers/helpers.js';

/** An artifact source that answers nothing until told to. */
class HoldingSource {
  readonly held: http.ServerResponse[] = [];
  seen = 0;
  private readonly server = http.createServer((_req, res) => {
    this.seen++;
    this.held.push(res);
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/artifact.json`;
  }

  /** Answer every held request with a 500 (the load then fails fast with `fetch_status`). */
  answerAll(): void {
    for (const res of this.held.splice(0)) res.writeHead(500).end();
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Until `cond` holds, checking every 10 ms; fails after `ms`. */
async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const source = new HoldingSource();
let pools: WorkerPool[] = [];

function pool(maxQueue = 16, init: WorkerInit = {}): WorkerPool {
  const p = new WorkerPool({ size: 1, init, maxQueue });
  pools.push(p);
  return p;
}

/** A load that hangs until the source answers (fetch timeout far beyond the test). */
function hangingLoad(): LoadTask {
  return {
    type: 'load',
    mode: 'cached',
    source: { kind: 'http', url: source.url },
    fetch: { timeoutMs: 60_000, maxBytes: 1 << 20, retries: 0, allowHttp: true },
    validation: { nowMs: Date.now() },
  };
}

function threadIds(p: WorkerPool): number[] {
  return p.threads.map((t) => t.threadId);
}

describe('WorkerPool', { timeout: 60_000 }, () => {
  before(() => source.start());
  afterEach(async () => {
    source.answerAll();
    await Promise.all(pools.map((p) => p.destroy()));
    pools = [];
  });
  after(() => source.close());

  test('a full queue refuses requests at once, without queueing; the agent’s own tasks (a poll) still queue', async () => {
    const p = pool(2);
    const seen = source.seen;
    const running = Array.from({ length: TASKS_PER_WORKER }, () => p.run(hangingLoad()));
    await until(() => source.seen === seen + TASKS_PER_WORKER, 20_000, 'the worker running its share of tasks');
    const queued = [p.run(hangingLoad()), p.run(hangingLoad())];
    assert.equal(p.queued, 2);
    assert.deepEqual(p.admit(), { ok: false, code: 'overloaded', message: 'the worker queue is full' });
    assert.equal(p.queued, 2, 'the refused request was never queued');
    const poll = p.run(hangingLoad());
    assert.equal(p.queued, 3, 'a load past the request bound waits for a worker instead of failing');
    source.answerAll();
    await until(() => source.held.length === 3, 20_000, 'the queued tasks reaching the source');
    source.answerAll();
    for (const r of await Promise.all([...running, ...queued, poll])) assert.equal(r.ok ? 'ok' : r.code, 'fetch_status');
  });

  test('a passed deadline answers task_timeout; one more deadline later the stuck worker is replaced', async () => {
    const p = pool();
    await p.run({ type: 'checkKey' });
    const before = threadIds(p);
    const started = Date.now();
    const r = await p.run(hangingLoad(), { deadlineMs: 300 });
    assert.deepEqual(r, { ok: false, code: 'task_timeout', message: 'the worker task exceeded its 300 ms deadline' });
    assert.ok(Date.now() - started >= 290, 'not before the deadline');
    await until(() => threadIds(p).length === 1 && threadIds(p)[0] !== before[0], 10_000, 'a replacement worker');
    const again = await p.run({ type: 'checkKey' });
    assert.equal(again.ok ? 'ok' : again.code, 'no_key', 'the new worker runs tasks (and has no key in this test)');
  });

  test('a bystander on the replaced worker runs again on the new one, and gets its own answer', async () => {
    const p = pool();
    // A started worker, so both tasks reach the source well within the deadline.
    await p.run({ type: 'checkKey' });
    const seen = source.seen;
    const stuck = p.run(hangingLoad(), { deadlineMs: 1_000 });
    const bystander = p.run(hangingLoad());
    await until(() => source.seen === seen + 2, 20_000, 'both tasks at the source');
    const timedOut = await stuck;
    assert.equal(timedOut.ok ? 'ok' : timedOut.code, 'task_timeout');
    // After the grace period the workers are replaced; the bystander reaches the source again.
    await until(() => source.seen === seen + 3, 10_000, 'the bystander re-run');
    source.answerAll();
    const r = await bystander;
    assert.equal(r.ok ? 'ok' : r.code, 'fetch_status', 'the re-run task answers, not `internal`');
  });

  test('recycle replaces every worker; the old ones finish what they run', async () => {
    const p = pool();
    await p.run({ type: 'checkKey' });
    const before = threadIds(p);
    const seen = source.seen;
    const running = p.run(hangingLoad());
    await until(() => source.seen === seen + 1, 20_000, 'the task at the source');
    p.recycle();
    await until(() => threadIds(p).length === 1, 10_000, 'the new worker online');
    assert.notEqual(threadIds(p)[0], before[0]);
    source.answerAll();
    const r = await running;
    assert.equal(r.ok ? 'ok' : r.code, 'fetch_status', 'the task on the old worker completed');
    assert.equal(source.seen, seen + 1, 'and was not re-run');
  });

  test('idleExitMs: an idle worker exits, and the next task starts one again', async () => {
    const p = new WorkerPool({ size: 2, init: {}, maxQueue: 16, idleExitMs: 50 });
    pools.push(p);
    assert.equal(p.threads.length, 0, 'no worker before the first task');
    assert.equal((await p.run({ type: 'checkKey' })).ok, false, 'no key configured: the task ran and answered');
    assert.ok(p.threads.length >= 1);
    await until(() => p.threads.length === 0, 10_000, 'the idle worker gone');
    const again = await p.run({ type: 'checkKey' });
    assert.equal(again.ok ? 'ok' : again.code, 'no_key', 'a new worker took the task');
  });

  test('workers run with the young-generation limit of common/limits.ts', async () => {
    const p = pool();
    await p.run({ type: 'checkKey' });
    assert.equal(p.threads[0]?.resourceLimits?.maxYoungGenerationSizeMb, WORKER_YOUNG_GENERATION_MB);
  });

  test('without idleExitMs every worker stays up while idle', async () => {
    const p = pool();
    await p.run({ type: 'checkKey' });
    const before = threadIds(p);
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(threadIds(p), before);
  });
});

describe('idleWorkersExit: which configurations let idle workers go', () => {
  const file = { kind: 'file', path: '/run/a.json' } as const;
  test('cached mode with a file, HTTP or git source: yes', () => {
    assert.equal(idleWorkersExit({ cacheTtl: 300, source: file }), true);
    assert.equal(idleWorkersExit({ cacheTtl: 300, source: { kind: 'http', url: 'https://h/a.json' } }), true);
  });
  test('JIT mode: no (a request must find a worker up)', () => {
    assert.equal(idleWorkersExit({ cacheTtl: 0, source: file }), false);
  });
  test('an S3 source: no (a new worker would resolve AWS credentials again for every poll)', () => {
    assert.equal(
      idleWorkersExit({ cacheTtl: 300, source: { kind: 's3', url: 'https://b.s3.us-east-1.amazonaws.com/k', bucket: 'b', key: 'k', region: 'us-east-1' } }),
      false,
    );
  });
});

const PAYLOAD = '{"app":{"A":"1","B":"two"}}';
const ANSWERS: ReadonlyArray<[ServeRequest, string]> = [
  [{ route: 'secrets' }, PAYLOAD],
  [{ route: 'keys' }, '["app__A","app__B"]'],
  [{ route: 'secret', name: 'app__B', plain: false }, '{"key":"app__B","value":"two"}'],
];

function bodyText(r: ServeResult): string {
  if (!r.ok) return r.code;
  return r.status === 200 ? Buffer.from(r.body).toString('utf8') : String(r.status);
}

describe('WorkerPool: JIT batches', { timeout: 60_000 }, () => {
  let key: AgeKeyPair;
  let artifact: EncryptedArtifact;
  before(async () => {
    await source.start();
    key = ageKeygen();
    const file = await ageLibEncrypt(PAYLOAD, key.recipient);
    artifact = { ciphertextHash: sha256Hex(file), ageFile: new Uint8Array(file) };
  });
  afterEach(async () => {
    source.answerAll();
    await Promise.all(pools.map((p) => p.destroy()));
    pools = [];
  });
  after(() => source.close());

  /** `n` requests admitted now, arriving now. */
  function admitted(p: WorkerPool, n: number): number[] {
    for (let i = 0; i < n; i++) assert.equal(p.admit(), undefined, `request ${i + 1} admitted`);
    return Array.from({ length: n }, () => performance.now());
  }

  test('MAX_QUEUE counts the requests a queued batch carries, not its one task; admitted requests count too', async () => {
    const p = pool(4, inlineKey(key.identity));
    await p.run({ type: 'checkKey' });
    const seen = source.seen;
    const running = Array.from({ length: TASKS_PER_WORKER }, () => p.run(hangingLoad()));
    await until(() => source.seen === seen + TASKS_PER_WORKER, 20_000, 'the worker holding its share of tasks');
    const batch = p.runBatch({ type: 'serveBatch', artifact, requests: ANSWERS.map(([r]) => r) }, { deadlineMs: 60_000, arrivedAt: admitted(p, 3) });
    assert.equal(p.queued, 1, 'one task waits…');
    const [fourth] = admitted(p, 1);
    const full = { ok: false, code: 'overloaded', message: 'the worker queue is full' };
    assert.deepEqual(p.admit(), full, '…carrying 3 requests: with one more admitted, 4 of 4 wait');
    const alone = p.runBatch({ type: 'serve', artifact, request: { route: 'keys' } }, { deadlineMs: 60_000, arrivedAt: [fourth ?? 0] });
    assert.equal(p.queued, 2);
    assert.deepEqual(p.admit(), full);
    source.answerAll();
    for (const r of await Promise.all(running)) assert.equal(r.ok ? 'ok' : r.code, 'fetch_status');
    assert.deepEqual((await Promise.all([...batch, ...alone])).map(bodyText), [...ANSWERS.map(([, body]) => body), '["app__A","app__B"]']);
    assert.equal(p.queued, 0);
    assert.equal(p.admit(), undefined, 'nothing waits any more');
  });

  test('each request of a batch has its own deadline, counted from its arrival; its late body goes to `late`', async () => {
    const p = pool(16, inlineKey(key.identity));
    await p.run({ type: 'checkKey' });
    const late: ServeResult[] = [];
    const [now = 0] = admitted(p, 2);
    const [stale, fresh] = p.runBatch(
      { type: 'serveBatch', artifact, requests: [{ route: 'secrets' }, { route: 'keys' }] },
      { deadlineMs: 1_000, arrivedAt: [now - 1_000, now], late: (r) => late.push(r) },
    );
    assert.ok(stale !== undefined && fresh !== undefined);
    assert.deepEqual(await stale, { ok: false, code: 'task_timeout', message: 'the worker task exceeded its 1000 ms deadline' });
    assert.equal(bodyText(await fresh), '["app__A","app__B"]', 'the other request of the batch is answered');
    await until(() => late.length === 1, 10_000, 'the late body handed over');
    assert.equal(bodyText(late[0] as ServeResult), PAYLOAD);
  });

  test('a batch queued behind a stuck task runs again on the new workers; every request gets its own answer', async () => {
    const p = pool(16, inlineKey(key.identity));
    await p.run({ type: 'checkKey' });
    const before = threadIds(p);
    const seen = source.seen;
    // Long enough for the worker to take its share and the batch to queue behind it before the
    // deadline replaces the worker, also on a loaded machine (CI once took longer than 500 ms).
    const stuck = p.run(hangingLoad(), { deadlineMs: 2_000 });
    const others = Array.from({ length: TASKS_PER_WORKER - 1 }, () => p.run(hangingLoad()));
    await until(() => source.seen === seen + TASKS_PER_WORKER, 20_000, 'the worker holding its share of tasks');
    const batch = p.runBatch({ type: 'serveBatch', artifact, requests: ANSWERS.map(([r]) => r) }, { deadlineMs: 60_000, arrivedAt: admitted(p, 3) });
    assert.equal(p.queued, 1);
    const r = await stuck;
    assert.equal(r.ok ? 'ok' : r.code, 'task_timeout');
    assert.deepEqual(
      (await Promise.all(batch)).map(bodyText),
      ANSWERS.map(([, body]) => body),
      'answered by the replacement worker',
    );
    assert.notEqual(threadIds(p)[0], before[0]);
    await until(() => source.seen === seen + 2 * TASKS_PER_WORKER - 1, 20_000, 'the other bystanders re-run');
    source.answerAll();
    for (const o of await Promise.all(others)) assert.equal(o.ok ? 'ok' : o.code, 'fetch_status');
  });

  test('a worker that dies under a batch fails each of its requests with `internal`; the next batch is served', async () => {
    const p = pool(16, inlineKey(key.identity));
    await p.run({ type: 'checkKey' });
    // Large enough that eight decryptions are still running when the worker is terminated.
    const big = JSON.stringify({ app: Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`K${i}`, 'x'.repeat(1024)])) });
    const file = await ageLibEncrypt(big, key.recipient);
    const heavy: EncryptedArtifact = { ciphertextHash: sha256Hex(file), ageFile: new Uint8Array(file) };
    const requests = Array.from({ length: 8 }, (): ServeRequest => ({ route: 'keys' }));
    const batch = p.runBatch({ type: 'serveBatch', artifact: heavy, requests }, { deadlineMs: 60_000, arrivedAt: admitted(p, 8) });
    assert.equal(p.queued, 0, 'handed to the worker');
    const victim = p.threads[0];
    assert.ok(victim !== undefined);
    await victim.terminate();
    const got = await Promise.all(batch);
    assert.deepEqual(
      got.map((r) => (r.ok ? 'ok' : r.code)),
      requests.map(() => 'internal'),
    );
    await until(() => threadIds(p).length === 1 && threadIds(p)[0] !== victim.threadId, 10_000, 'a replacement worker');
    const again = p.runBatch({ type: 'serveBatch', artifact, requests: ANSWERS.map(([r]) => r) }, { deadlineMs: 60_000, arrivedAt: admitted(p, 3) });
    assert.deepEqual(
      (await Promise.all(again)).map(bodyText),
      ANSWERS.map(([, body]) => body),
    );
  });
});
