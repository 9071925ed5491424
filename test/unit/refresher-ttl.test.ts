/**
 * SPEC §4.1/§4.3 cached mode on a fake clock: the real Refresher and CachedMode, a scripted pool.
 * The last good snapshot is served until CACHE_TTL passes without a successful refresh; then a
 * request tries one refresh of its own (bounded by a deadline, shared by concurrent requests) and
 * is refused `cache_expired`; a success serves again. A hanging source never blocks serving.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { answer, cachedRig, pollingCached, refusal, text } from './refresh-rig.js';
import { loaded, meta } from './scripted-pool.js';
import { taskFailure } from '../../common/task-failure.js';
import { suiteTempDirs } from '../kit/index.js';

/** The cache directory is decided (and created) by loadConfig: a real one, never a system path. */
const CACHE_DIR = suiteTempDirs('clef-refresher-').make();

const S = 1000;
const TTL = 30 * S;
const GOOD = { app: { API_KEY: 'ttl-value', DATABASE_URL: 'postgres://ttl' } };

describe('cached mode: CACHE_TTL with a failing source (fake clock)', () => {
  test('within the TTL a failed poll changes nothing for clients but is reported; lastRefreshAt stays', async () => {
    const r = await pollingCached(GOOD);
    const loadedAt = r.time.now();
    r.pool.source = () => taskFailure('fetch_status', 'HTTP 500 from the source', 500);
    await r.time.advance(5 * S);
    assert.equal(r.pool.loads.length, 2, 'one poll after 5 s');
    const fetchFailed = r.events('fetch.failed');
    assert.deepEqual(
      fetchFailed.map((l) => [l['trigger'], l['code'], l['status']]),
      [['poll', 'fetch_status', 500]],
    );
    const b = r.mode.secrets();
    assert.ok(!(b instanceof Promise), 'a fresh snapshot answers synchronously');
    assert.deepEqual(JSON.parse(text(b)), GOOD);
    const h = r.mode.health();
    assert.equal(h['lastRefreshAt'], loadedAt, 'a failed fetch is not a successful refresh');
    // Health reports the code and time only; the message is in the log line.
    assert.deepEqual(h['lastError'], { code: 'fetch_status', status: 500, at: loadedAt + 5 * S });
    assert.match(String(fetchFailed[0]?.['msg']), /HTTP 500 from the source/);
    assert.equal(h['expired'], false);
    r.refresher.stop();
  });

  test('the TTL boundary: served at exactly CACHE_TTL, refused 1 ms later after one request refresh', async () => {
    const r = await pollingCached(GOOD);
    r.pool.source = () => taskFailure('fetch_status', 'HTTP 500 from the source', 500);
    await r.time.advance(TTL);
    assert.deepEqual(r.mode.ready(), { ready: true }, 'not before CACHE_TTL has passed');
    assert.deepEqual(JSON.parse(text(await answer(() => r.mode.keys()))), ['app__API_KEY', 'app__DATABASE_URL']);

    await r.time.advance(1);
    assert.deepEqual(r.mode.ready(), { ready: false, reason: 'cache_expired' });
    assert.equal(r.mode.health()['expired'], true);
    const before = r.pool.loads.length;
    assert.equal(await refusal(() => r.mode.secrets()), 'cache_expired');
    assert.equal(r.pool.loads.length, before + 1, 'the request fetched the source before answering 503');
    assert.equal(r.events('fetch.failed').at(-1)?.['trigger'], 'request');
    assert.equal(r.mode.health()['keys'], 0, 'the stale snapshot was dropped');
    r.refresher.stop();
  });

  test('concurrent requests after the TTL share one refresh; every secrets route is refused', async () => {
    const r = await pollingCached(GOOD);
    r.pool.source = () => taskFailure('fetch_status', 'HTTP 500 from the source', 500);
    await r.time.advance(TTL + 1);
    const before = r.pool.loads.length;
    const reasons = await Promise.all(Array.from({ length: 5 }, () => refusal(() => r.mode.secrets())));
    assert.deepEqual(reasons, Array(5).fill('cache_expired'));
    assert.equal(r.pool.loads.length, before + 1, '5 concurrent requests share one refresh');
    assert.equal(await refusal(() => r.mode.keys()), 'cache_expired');
    assert.equal(await refusal(() => r.mode.secret('app__API_KEY', { plain: false })), 'cache_expired');
    r.refresher.stop();
  });

  test('a poll after the TTL wipes the stale snapshot even with no request', async () => {
    const r = await pollingCached(GOOD);
    const held = await answer(() => r.mode.secrets());
    held.release?.();
    r.pool.source = () => taskFailure('fetch_failed', 'connection refused');
    await r.time.advance(TTL);
    assert.equal(r.mode.health()['keys'], 2, 'within the TTL the snapshot stays');
    await r.time.advance(5 * S);
    assert.equal(r.mode.health()['keys'], 0);
    assert.ok(
      held.bytes.every((x) => x === 0),
      'the plaintext past its TTL was zeroed',
    );
    r.refresher.stop();
  });

  test('the source returns: a request’s own refresh recovers at once, and the TTL counts from it', async () => {
    const r = await pollingCached(GOOD);
    const loadedAt = r.time.now();
    r.pool.source = () => taskFailure('fetch_status', 'HTTP 500 from the source', 500);
    await r.time.advance(TTL + 2 * S);
    assert.equal(await refusal(() => r.mode.secrets()), 'cache_expired');

    const B = meta('rev-b', { packedAtMs: r.time.now() });
    r.pool.source = () => loaded(B, GOOD);
    const back = await answer(() => r.mode.secrets());
    assert.deepEqual(JSON.parse(text(back)), GOOD);
    back.release?.();
    assert.equal(r.events('artifact.refreshed').at(-1)?.['trigger'], 'request');
    assert.deepEqual(r.mode.ready(), { ready: true });
    const h = r.mode.health();
    assert.equal(h['expired'], false);
    assert.equal(h['lastError'], null);
    assert.equal(h['revision'], 'rev-b');
    assert.ok((h['lastRefreshAt'] as number) > loadedAt);
    r.refresher.stop();
  });

  test('an `unchanged` answer is a successful refresh: it keeps the snapshot fresh past the first TTL', async () => {
    const r = await pollingCached(GOOD);
    r.pool.source = () => ({ ok: true, outcome: 'unchanged' });
    await r.time.advance(3 * TTL);
    assert.deepEqual(r.mode.ready(), { ready: true });
    assert.equal(r.mode.health()['lastRefreshAt'], r.time.now(), 'the last poll, at exactly 3 × TTL');
    assert.equal(r.events('artifact.unchanged').length, 18, 'one poll every 5 s');
    // The change marker goes with every poll, so the source can answer 304.
    assert.equal(r.pool.loads.at(-1)?.marker, '"rev-a"');
    r.refresher.stop();
  });

  test('a copy from the disk cache is not a refresh: the TTL counts from when it was fetched', async () => {
    const r = cachedRig({ CLEF_AGENT_CACHE_PATH: CACHE_DIR });
    const fetchedAtMs = r.time.now() - 20 * S;
    const A = meta('rev-a', { packedAtMs: fetchedAtMs - 60 * S });
    const sourceFailure = taskFailure('fetch_failed', 'connection refused');
    r.pool.source = () => ({ ...loaded(A, GOOD), cache: { fromDisk: { fetchedAtMs, sourceFailure } } });
    await r.refresher.refresh('startup');
    assert.equal(r.pool.loads[0]?.diskCache?.maxAgeMs, TTL, 'cached mode keeps a copy up to its TTL');
    assert.equal(r.events('fetch.failed')[0]?.['fallback'], 'disk_cache');
    assert.equal(r.mode.health()['lastRefreshAt'], fetchedAtMs);
    assert.equal((r.mode.health()['lastError'] as { code: string }).code, 'fetch_failed');
    await r.time.advance(10 * S);
    assert.deepEqual(r.mode.ready(), { ready: true });
    await r.time.advance(1);
    assert.deepEqual(r.mode.ready(), { ready: false, reason: 'cache_expired' });
  });
});

describe('cached mode: a hanging source (fake clock)', () => {
  test('a hung poll never blocks serving; after the TTL the request refresh gives up at its 3 s deadline', async () => {
    const r = await pollingCached(GOOD);
    r.pool.source = () => 'hang';
    await r.time.advance(5 * S);
    assert.equal(r.pool.hanging, 1, 'the poll reached the hanging source');
    const during = r.mode.secrets();
    assert.ok(!(during instanceof Promise), 'served from the snapshot at once while the poll hangs');
    assert.deepEqual(JSON.parse(text(during)), GOOD);
    await r.time.advance(30 * S);
    assert.equal(r.pool.loads.length, 2, 'no new poll starts while one hangs');
    assert.deepEqual(r.mode.ready(), { ready: false, reason: 'cache_expired' });

    // The request joins the hanging refresh, bounded by its deadline; so do concurrent ones.
    const one = refusal(() => r.mode.secrets());
    const many = Promise.all(Array.from({ length: 5 }, () => refusal(() => r.mode.keys())));
    await r.time.advance(3 * S - 1);
    let settled = false;
    void Promise.all([one, many]).then(() => (settled = true));
    await r.time.advance(0);
    assert.equal(settled, false, 'still waiting just before the deadline');
    await r.time.advance(1);
    assert.equal(settled, true, 'answered at the deadline on the injected clock, not after real time');
    assert.equal(await one, 'cache_expired');
    assert.deepEqual(await many, Array(5).fill('cache_expired'));
    assert.equal(r.pool.loads.length, 2, 'the requests shared the hanging refresh');
    assert.equal(r.mode.health()['expired'], true, 'health never waits on the source');

    // The source answers again: the hung attempt completes and polling resumes 5 s later.
    const B = meta('rev-b', { packedAtMs: r.time.now() });
    r.pool.release(() => loaded(B, GOOD));
    r.pool.source = () => ({ ok: true, outcome: 'unchanged' });
    await r.time.advance(0);
    assert.deepEqual(r.mode.ready(), { ready: true });
    assert.deepEqual(JSON.parse(text(await answer(() => r.mode.secrets()))), GOOD);
    await r.time.advance(5 * S);
    assert.equal(r.pool.loads.length, 3);
    r.refresher.stop();
  });
});
