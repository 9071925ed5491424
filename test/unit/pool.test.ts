/**
 * WorkerPool (src/pool.ts) directly, with real workers: a full queue answers `overloaded` at once,
 * a passed deadline answers `task_timeout` and a task still stuck one deadline later gets the
 * workers replaced (bystanders re-run on the new ones), and `recycle` replaces every worker while
 * the old ones finish what they run. Tasks are made to hang on a local source that holds every
 * request until the test answers it.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, afterEach, before, describe, test } from 'node:test';
import type { LoadTask } from '../../common/protocol.js';
import { TASKS_PER_WORKER } from '../../common/limits.js';
import { WorkerPool } from '../../src/pool.js';
import { idleWorkersExit } from '../../src/agent.js';

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

function pool(maxQueue = 16): WorkerPool {
  const p = new WorkerPool({ size: 1, init: {}, maxQueue });
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

  test('a full queue answers overloaded at once, without queueing', async () => {
    const p = pool(2);
    const seen = source.seen;
    const running = Array.from({ length: TASKS_PER_WORKER }, () => p.run(hangingLoad()));
    await until(() => source.seen === seen + TASKS_PER_WORKER, 20_000, 'the worker running its share of tasks');
    const queued = [p.run(hangingLoad()), p.run(hangingLoad())];
    assert.equal(p.queued, 2);
    assert.deepEqual(await p.run(hangingLoad()), { ok: false, code: 'overloaded', message: 'the worker queue is full' });
    assert.equal(p.queued, 2, 'the refused task was never queued');
    source.answerAll();
    await until(() => source.held.length === 2, 20_000, 'the queued tasks reaching the source');
    source.answerAll();
    for (const r of await Promise.all([...running, ...queued])) assert.equal(r.ok ? 'ok' : r.code, 'fetch_status');
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
