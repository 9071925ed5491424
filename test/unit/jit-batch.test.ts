/**
 * JIT dispatch (src/serving/jit-batch.ts): which requests share a worker task. The pool here
 * records the tasks the batcher forms and answers each request by name, so the tests can see the
 * batches and check every request got its own answer; the real pool's side (queue accounting,
 * deadlines) is in pool.test.ts, the worker's in test/workers/serve-batch.test.ts.
 */
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { JIT_BATCH_MAX, SPARE_BODY_MIN_BYTES } from '../../common/limits.js';
import type { EncryptedArtifact, ServeBatchTask, ServeRequest, ServeResult, ServeTask, TaskFailure } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import type { BatchOptions } from '../../src/pool.js';
import { batchSizes, JitBatcher, type BatchPool } from '../../src/serving/jit-batch.js';
import { SpareBodies } from '../../src/serving/spare-bodies.js';

type Formed = ServeTask | ServeBatchTask;

/** Answers each request with a body naming its artifact and request; admits up to `capacity` requests. */
class RecordingPool implements BatchPool {
  readonly tasks: Formed[] = [];
  readonly options: BatchOptions[] = [];
  admitted = 0;
  refused = 0;
  constructor(
    readonly size = 1,
    private readonly capacity = Number.POSITIVE_INFINITY,
  ) {}

  admit(): TaskFailure | undefined {
    if (this.admitted >= this.capacity) {
      this.refused++;
      return taskFailure('overloaded', 'the worker queue is full');
    }
    this.admitted++;
    return undefined;
  }

  runBatch(task: Formed, options: BatchOptions): Promise<ServeResult>[] {
    this.tasks.push(task);
    this.options.push(options);
    const requests = task.type === 'serve' ? [task.request] : task.requests;
    this.admitted -= requests.length;
    return requests.map((r) => Promise.resolve(answerFor(task.artifact, r)));
  }
}

function artifact(name: string): EncryptedArtifact {
  return { ciphertextHash: name, ageFile: new Uint8Array(0) };
}

function label(r: ServeRequest): string {
  return r.route === 'secret' ? `secret:${r.name}` : r.route;
}

function answerFor(a: EncryptedArtifact, r: ServeRequest): ServeResult {
  if (r.route === 'secret' && r.name === 'missing') return { ok: true, status: 404 };
  return { ok: true, status: 200, contentType: 'application/json', body: new Uint8Array(Buffer.from(`${a.ciphertextHash}/${label(r)}`)) };
}

function text(r: ServeResult): string {
  if (!r.ok) return r.code;
  return r.status === 200 ? Buffer.from(r.body).toString('utf8') : String(r.status);
}

function requestsOf(t: Formed): string[] {
  return (t.type === 'serve' ? [t.request] : t.requests).map(label);
}

const secret = (name: string): ServeRequest => ({ route: 'secret', name, plain: false });
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('JitBatcher', () => {
  test('requests that arrive in one turn are one serveBatch task; each gets its own answer, in order', async () => {
    const pool = new RecordingPool();
    const b = new JitBatcher(pool, 5000);
    const a = artifact('A');
    const answers = [b.serve(a, { route: 'secrets' }), b.serve(a, { route: 'keys' }), b.serve(a, secret('missing')), b.serve(a, secret('x'))];
    assert.equal(pool.tasks.length, 0, 'nothing leaves before the turn ends');
    const got = (await Promise.all(answers)).map(text);
    assert.deepEqual(got, ['A/secrets', 'A/keys', '404', 'A/secret:x'], 'a 404 among them is that request’s alone');
    assert.equal(pool.tasks.length, 1);
    assert.deepEqual(
      pool.tasks.map((t) => [t.type, requestsOf(t)]),
      [['serveBatch', ['secrets', 'keys', 'secret:missing', 'secret:x']]],
    );
  });

  test('a lone request is a plain serve task (a batch of one is today’s task); later turns are new tasks', async () => {
    const pool = new RecordingPool();
    const b = new JitBatcher(pool, 5000);
    const a = artifact('A');
    assert.equal(text(await b.serve(a, { route: 'keys' })), 'A/keys');
    await nextTurn();
    const [x, y] = await Promise.all([b.serve(a, secret('1')), b.serve(a, secret('2'))]);
    assert.deepEqual([x, y].map(text), ['A/secret:1', 'A/secret:2']);
    assert.deepEqual(
      pool.tasks.map((t) => [t.type, requestsOf(t)]),
      [
        ['serve', ['keys']],
        ['serveBatch', ['secret:1', 'secret:2']],
      ],
    );
  });

  test(`more than JIT_BATCH_MAX (${JIT_BATCH_MAX}) requests in one turn are split into even tasks, none over the cap`, async () => {
    const pool = new RecordingPool();
    const b = new JitBatcher(pool, 5000);
    const a = artifact('A');
    const n = 2 * JIT_BATCH_MAX + 3;
    const got = await Promise.all(Array.from({ length: n }, (_, i) => b.serve(a, secret(String(i)))));
    assert.deepEqual(
      got.map(text),
      Array.from({ length: n }, (_, i) => `A/secret:${i}`),
    );
    const sizes = pool.tasks.map((t) => requestsOf(t).length);
    assert.deepEqual(sizes, batchSizes(n, 1));
    assert.equal(sizes.length, 3);
    assert.ok(sizes.every((s) => s <= JIT_BATCH_MAX));
    assert.ok(Math.max(...sizes) - Math.min(...sizes) <= 1);
    assert.deepEqual(
      pool.tasks.flatMap(requestsOf),
      Array.from({ length: n }, (_, i) => `secret:${i}`),
      'arrival order kept',
    );
  });

  test('with several workers a turn is spread: at least one task per worker while there are requests enough', async () => {
    const pool = new RecordingPool(3);
    const b = new JitBatcher(pool, 5000);
    const a = artifact('A');
    await Promise.all([b.serve(a, secret('1')), b.serve(a, secret('2'))]);
    assert.deepEqual(
      pool.tasks.map((t) => t.type),
      ['serve', 'serve'],
      'two requests, three workers: two tasks',
    );
    pool.tasks.length = 0;
    await Promise.all(Array.from({ length: 10 }, (_, i) => b.serve(a, secret(String(i)))));
    assert.deepEqual(
      pool.tasks.map((t) => requestsOf(t).length),
      [4, 3, 3],
    );
    assert.deepEqual(
      batchSizes(64, 2),
      Array.from({ length: 8 }, () => JIT_BATCH_MAX),
      'the cap still holds',
    );
    assert.deepEqual(batchSizes(0, 2), []);
  });

  test('requests on different artifacts (a refresh between arrivals) never share a task', async () => {
    const pool = new RecordingPool();
    const b = new JitBatcher(pool, 5000);
    const [a, c] = [artifact('A'), artifact('B')];
    const got = await Promise.all([b.serve(a, secret('1')), b.serve(c, secret('2')), b.serve(a, secret('3')), b.serve(c, secret('4'))]);
    assert.deepEqual(got.map(text), ['A/secret:1', 'B/secret:2', 'A/secret:3', 'B/secret:4'], 'each answered from the artifact it arrived on');
    assert.deepEqual(
      pool.tasks.map((t) => [t.artifact.ciphertextHash, requestsOf(t)]),
      [
        ['A', ['secret:1', 'secret:3']],
        ['B', ['secret:2', 'secret:4']],
      ],
    );
  });

  test('each request carries its own arrival time and the configured deadline; a late body is wiped', async () => {
    const pool = new RecordingPool();
    const b = new JitBatcher(pool, 1234);
    const a = artifact('A');
    const first = b.serve(a, secret('1'));
    const before = performance.now();
    const second = b.serve(a, secret('2'));
    await Promise.all([first, second]);
    const o = pool.options[0];
    assert.ok(o !== undefined);
    assert.equal(o.deadlineMs, 1234);
    assert.equal(o.arrivedAt.length, 2);
    assert.ok((o.arrivedAt[0] ?? Infinity) <= before && before <= (o.arrivedAt[1] ?? -Infinity), 'stamped when each arrived, not when the turn ended');
    const late = answerFor(a, secret('late'));
    o.late?.(late);
    assert.ok(late.ok && late.status === 200 && late.body.every((x) => x === 0));
  });

  test('tasks carry kept body buffers back to the workers, one per request at most; never for a KMS artifact', async () => {
    const pool = new RecordingPool();
    const spares = new SpareBodies();
    const b = new JitBatcher(pool, 5000, spares);
    const kept = [1, 2, 3].map(() => new ArrayBuffer(SPARE_BODY_MIN_BYTES));
    for (const k of kept) spares.keep(k);
    const a = artifact('A');
    await Promise.all([b.serve(a, { route: 'secrets' }), b.serve(a, { route: 'keys' })]);
    assert.equal(pool.tasks[0]?.spare?.length, 2, 'two requests, two spares');
    const kms = { ...artifact('K'), kms: {} as NonNullable<EncryptedArtifact['kms']> };
    await b.serve(kms, { route: 'secrets' });
    assert.equal(pool.tasks[1]?.spare, undefined, 'a KMS artifact takes none');
    await b.serve(a, { route: 'secrets' });
    assert.equal(pool.tasks[2]?.spare?.length, 1, 'the one left');
    assert.equal(spares.size, 0);
  });

  test('a full queue answers overloaded at once, per request, and holds nothing for it', async () => {
    const pool = new RecordingPool(1, 3);
    const b = new JitBatcher(pool, 5000);
    const a = artifact('A');
    const answers = Array.from({ length: 5 }, (_, i) => b.serve(a, secret(String(i))));
    assert.equal(pool.refused, 2, 'the 4th and 5th request of the turn were refused on arrival');
    const got = (await Promise.all(answers)).map(text);
    assert.deepEqual(got, ['A/secret:0', 'A/secret:1', 'A/secret:2', 'overloaded', 'overloaded']);
    assert.deepEqual(
      pool.tasks.map((t) => requestsOf(t).length),
      [3],
    );
  });

  test('flush hands waiting requests to the pool at once (a drop does it before the workers are replaced)', async () => {
    const pool = new RecordingPool();
    const b = new JitBatcher(pool, 5000);
    const a = artifact('A');
    const answers = [b.serve(a, secret('1')), b.serve(a, secret('2'))];
    b.flush();
    assert.equal(pool.tasks.length, 1, 'submitted synchronously');
    b.flush();
    assert.deepEqual((await Promise.all(answers)).map(text), ['A/secret:1', 'A/secret:2']);
    await nextTurn();
    assert.equal(pool.tasks.length, 1, 'the turn’s own flush finds nothing left');
  });
});
