/**
 * SPEC §10.2 pieces on their own, on the injected clock (test/unit/fake-time.ts): the waiter set
 * (one shared timer however many waiters, deadlines never early, one wake pass, the cap, removal,
 * close), the entity tags (what they derive from, the cache), `If-None-Match` matching and the
 * `?wait` parser. Then the notifier over a stub mode: a matching condition is answered without
 * asking the mode for a body (what keeps a JIT 304 off the workers).
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { LONG_POLL_BUCKET_MS, longPollLimit } from '../../common/limits.js';
import { TokenGuard } from '../../src/http/auth.js';
import { ChangeNotifier, INVALID_WAIT, waitSeconds } from '../../src/http/notify.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { Waiters, type WakeReason } from '../../src/http/waiters.js';
import { realTimers } from '../../src/refresh/timers.js';
import { EntityTags, entityTag, ifNoneMatchHits } from '../../src/serving/etag.js';
import type { Body, ServingMode } from '../../src/serving/mode.js';
import { FakeTime } from './fake-time.js';
import { capturedLog } from './refresh-rig.js';

const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);

describe('Waiters (one shared deadline timer)', () => {
  const rig = (
    max = 100,
  ): { time: FakeTime; waiters: Waiters; woken: Array<[number, WakeReason]>; park: (id: number, waitMs: number) => ReturnType<Waiters['add']> } => {
    const time = new FakeTime();
    const waiters = new Waiters(max, time.now, time);
    const woken: Array<[number, WakeReason]> = [];
    const park = (id: number, waitMs: number): ReturnType<Waiters['add']> => waiters.add(time.now() + waitMs, (why) => woken.push([id, why]));
    return { time, waiters, woken, park };
  };

  test('a thousand waiters with a hundred deadlines: one timer pending, each answered at its deadline, never before', async () => {
    const { time, waiters, woken, park } = rig(1000);
    for (let i = 0; i < 1000; i++) park(i, ((i % 100) + 1) * 1000);
    assert.equal(waiters.size, 1000);
    assert.equal(time.delays().length, 1, 'one timer for all of them');
    await time.advance(999);
    assert.equal(woken.length, 0, 'nobody before the first deadline');
    await time.advance(LONG_POLL_BUCKET_MS);
    assert.deepEqual(
      woken.map(([id]) => id),
      Array.from({ length: 10 }, (_, k) => k * 100),
      'the 1 s waiters, within a bucket of their deadline',
    );
    assert.ok(woken.every(([, why]) => why === 'deadline'));
    assert.equal(time.delays().length, 1, 'still one timer, now for the next bucket');
    await time.advance(100_000);
    assert.equal(woken.length, 1000);
    assert.equal(waiters.size, 0);
    assert.deepEqual(time.delays(), [], 'no timer once nobody waits');
  });

  test('a waiter that parks with an earlier deadline re-arms the one timer sooner', async () => {
    const { time, woken, park } = rig();
    park(1, 300_000);
    assert.deepEqual(time.delays(), [300_000]);
    park(2, 2_000);
    assert.deepEqual(time.delays(), [2_000]);
    await time.advance(2_000);
    assert.deepEqual(woken, [[2, 'deadline']]);
    assert.deepEqual(time.delays(), [298_000]);
  });

  test('wakeAll answers every waiter in one pass, deadlines regardless; one that parks again waits for the next change', async () => {
    const { time, waiters, woken, park } = rig();
    park(1, 10_000);
    park(2, 200_000);
    let again = 0;
    waiters.add(time.now() + 50_000, (why) => {
      woken.push([3, why]);
      if (again++ === 0) waiters.add(time.now() + 50_000, (w) => woken.push([30, w]));
    });
    waiters.wakeAll();
    assert.deepEqual(
      [...woken].sort((x, y) => x[0] - y[0]),
      [
        [1, 'changed'],
        [2, 'changed'],
        [3, 'changed'],
      ],
    );
    assert.equal(waiters.size, 1, 'the one that parked again');
    await time.advance(50_000);
    assert.deepEqual(woken.at(-1), [30, 'deadline']);
    assert.equal(waiters.size, 0);
  });

  test('the cap: past max, add answers full; a removed waiter frees its place and is never woken', async () => {
    const { time, waiters, woken, park } = rig(2);
    const a = park(1, 1_000);
    park(2, 1_000);
    assert.equal(park(3, 1_000), 'full');
    assert.ok(typeof a === 'object');
    waiters.remove(a);
    waiters.remove(a);
    assert.equal(waiters.size, 1);
    assert.ok(typeof park(4, 1_000) === 'object');
    await time.advance(1_000);
    assert.deepEqual(
      woken.map(([id]) => id),
      [2, 4],
    );
  });

  test('close answers every waiter with closing and refuses new ones', () => {
    const { time, waiters, woken, park } = rig();
    park(1, 5_000);
    park(2, 60_000);
    waiters.close();
    assert.deepEqual(woken, [
      [1, 'closing'],
      [2, 'closing'],
    ]);
    assert.equal(park(3, 1_000), 'closed');
    assert.equal(waiters.size, 0);
    assert.deepEqual(time.delays(), []);
  });
});

describe('entity tags', () => {
  test('derived from the ciphertext hash and the representation only: each input changes the tag', () => {
    const base = entityTag(HASH_A, { route: 'secret', key: 'app__K', plain: false });
    const variants = [
      entityTag(HASH_B, { route: 'secret', key: 'app__K', plain: false }),
      entityTag(HASH_A, { route: 'secret', key: 'app__K', plain: true }),
      entityTag(HASH_A, { route: 'secret', key: 'app/K', plain: false }),
      entityTag(HASH_A, { route: 'secret', key: 'app__K', plain: false, scope: 'web' }),
      entityTag(HASH_A, { route: 'secrets' }),
      entityTag(HASH_A, { route: 'keys' }),
      entityTag(HASH_A, { route: 'keys', scope: 'web' }),
      entityTag(HASH_A, { route: 'keys', scope: 'api' }),
    ];
    assert.equal(new Set([base, ...variants]).size, variants.length + 1);
    assert.equal(entityTag(HASH_A, { route: 'secret', key: 'app__K', plain: false }), base, 'deterministic');
    assert.match(base, /^"[A-Za-z0-9_-]{43}"$/);
  });

  test('the cache answers what entityTag computes, per revision, and stays bounded', () => {
    const tags = new EntityTags();
    const reps = [{ route: 'secrets' as const }, { route: 'keys' as const, scope: 'web' }, { route: 'secret' as const, key: 'a b', plain: true }];
    for (const hash of [HASH_A, HASH_B, HASH_A])
      for (const r of reps) {
        assert.equal(tags.tag(hash, r), entityTag(hash, r));
        assert.equal(tags.tag(hash, r), entityTag(hash, r));
      }
    for (let i = 0; i < 10_000; i++) assert.equal(tags.tag(HASH_A, { route: 'secret', key: `k${i}` }), entityTag(HASH_A, { route: 'secret', key: `k${i}` }));
  });

  test('If-None-Match: exact, weak form, lists (also as Node joins repeated lines), *; anything else misses', () => {
    const tag = entityTag(HASH_A, { route: 'secrets' });
    for (const hit of [tag, `W/${tag}`, ` ${tag} `, `"x", ${tag}`, `"x",${tag},"y"`, `W/"x", W/${tag}`, '*', ' * '])
      assert.equal(ifNoneMatchHits(hit, tag), true, hit);
    for (const miss of ['', '"x"', tag.slice(1, -1), `w/${tag}`, `${tag}x`, `"x" ${tag}`, '**', `*, "x"`])
      assert.equal(ifNoneMatchHits(miss, tag), false, miss);
  });
});

describe('?wait', () => {
  test('absent, valid and invalid', () => {
    for (const target of ['/v1/secrets', '/v1/secrets?', '/v1/secrets?x=1', '/v1/secrets?waiting=5', '/v1/secrets?await=5'])
      assert.equal(waitSeconds(target), undefined, target);
    for (const [target, n] of [
      ['/v1/secrets?wait=1', 1],
      ['/v1/secrets?wait=300', 300],
      ['/v1/keys?a=b&wait=42&c', 42],
      ['/v1/secrets/app/KEY?wait=7', 7],
    ] as const)
      assert.equal(waitSeconds(target), n, target);
    for (const q of [
      'wait',
      'wait=',
      'wait=0',
      'wait=301',
      'wait=1000',
      'wait=01',
      'wait=+5',
      'wait=-5',
      'wait=5s',
      'wait=1.0',
      'wait=1e2',
      'wait=%35',
      'wait=5&wait=5',
      'wait= 5',
    ])
      assert.equal(waitSeconds(`/v1/secrets?${q}`), INVALID_WAIT, q);
  });
});

describe('ChangeNotifier over a stub mode: a matching condition never asks the mode for a body', () => {
  const TOKEN = 'tok_0123456789abcdefghijklmnopqrstuvwxyzAB';
  /** What the stub says is servable now, and the artifact its bodies come from. */
  let hash: string | undefined = HASH_A;
  let current = HASH_A;
  let bodies = 0;
  let released = 0;
  const body = (): Body => {
    bodies++;
    return { contentType: 'application/json', bytes: Buffer.from('{"app":{"K":"v"}}'), ciphertextHash: current, release: () => void released++ };
  };
  // Like JIT mode: every body would be a worker task.
  const stub: ServingMode = {
    name: 'jit',
    health: () => ({ status: 'ok' }),
    ready: () => ({ ready: true }),
    secrets: () => Promise.resolve(body()),
    keys: () => Promise.resolve(body()),
    secret: () => Promise.resolve(body()),
    servableHash: () => hash,
  };
  let server: RunningServer;
  let notify: ChangeNotifier;
  before(async () => {
    notify = new ChangeNotifier({ mode: stub, maxWaiters: 4, clock: Date.now, timers: realTimers });
    server = await startServer({ port: 0, maxConnections: 16, mode: stub, notify, guard: new TokenGuard(TOKEN), log: capturedLog().log });
  });
  after(() => server.close());

  const get = (path: string, condition?: string): Promise<{ status: number; etag: string | undefined }> =>
    new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${TOKEN}`, ...(condition === undefined ? {} : { 'if-none-match': condition }) };
      http
        .get({ host: '127.0.0.1', port: server.port, path, headers, agent: false }, (res) => {
          res.resume();
          res.on('end', () => resolve({ status: res.statusCode ?? 0, etag: res.headers.etag }));
        })
        .on('error', reject);
    });

  test('304 from the servable hash alone; a 200 takes a body; an unservable state goes to the route (its refresh or error)', async () => {
    const first = await get('/v1/secrets');
    assert.deepEqual([first.status, bodies], [200, 1]);
    assert.equal(first.etag, entityTag(HASH_A, { route: 'secrets' }));
    for (let i = 0; i < 5; i++) assert.equal((await get('/v1/secrets', first.etag)).status, 304);
    assert.equal(bodies, 1, 'no body made for a 304');
    // Not servable right now (e.g. past its TTL): the route answers; here its body is still A's, so 304 after all.
    hash = undefined;
    assert.equal((await get('/v1/secrets', first.etag)).status, 304);
    assert.equal(bodies, 2);
    hash = HASH_A;
  });

  test('a long poll parks without a body and is woken by changed() in one pass', async () => {
    const tag = entityTag(HASH_A, { route: 'keys' });
    const made = bodies;
    const waiting = [get('/v1/keys?wait=30', tag), get('/v1/keys?wait=30', tag)];
    while (notify.waiters.size < 2) await new Promise((r) => setTimeout(r, 5));
    assert.equal(bodies, made);
    // A change that leaves the tag current parks them again.
    notify.changed();
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(notify.waiters.size, 2);
    hash = current = HASH_B;
    notify.changed();
    const answers = await Promise.all(waiting);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200],
    );
    assert.ok(answers.every((a) => a.etag === entityTag(HASH_B, { route: 'keys' })));
    assert.equal(bodies, made + 1, 'the waiters of one representation share one body (one JIT task, not one each)');
    // Released once both responses closed ('close' may trail the client's end by a tick).
    for (let i = 0; i < 100 && released < bodies; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(released, bodies, 'and it is released once, after both responses');
    assert.equal(notify.waiters.size, 0);
  });
});

describe('§10.2 long polls never take every connection (longPollLimit)', () => {
  test('1/16 of CLEF_AGENT_MAX_CONNECTIONS (at least one) stays free of long polls; a lower MAX_WAITERS wins', () => {
    assert.equal(longPollLimit(1024, 1024), 960);
    assert.equal(longPollLimit(65535, 1024), 960);
    assert.equal(longPollLimit(100, 1024), 100);
    assert.equal(longPollLimit(1024, 100), 93);
    assert.equal(longPollLimit(8, 8), 7);
    assert.equal(longPollLimit(1024, 2), 1);
    assert.equal(longPollLimit(1024, 1), 0);
  });
  test('for every cap, a connection is left beside the parked long polls', () => {
    for (let connections = 1; connections <= 4096; connections++) {
      const parked = longPollLimit(65535, connections);
      assert.ok(parked >= 0 && parked < connections, `${connections} connections: ${parked} parked`);
    }
  });
});
