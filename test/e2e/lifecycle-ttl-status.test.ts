/**
 * SPEC §4.3 cached mode, source answering 500: the last good snapshot is served until CACHE_TTL
 * (30 s) passes without a successful refresh; then a request first tries one refresh of its own,
 * and answers 503 `cache_expired` when it fails; when the source comes back, a request's own
 * refresh recovers. Real time: ~40 s, so this file runs on its own.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fetchFailed, health, refreshed, startPolled } from '../helpers/scenario.js';
import { assertErrorBody as assertRefused, waitUntil as until } from '../kit/index.js';

const GOOD = { app: { API_KEY: 'ttl-value', DATABASE_URL: 'postgres://ttl' } };
const TTL_MS = 30_000;

describe('§4.3 cached mode: CACHE_TTL with a failing source (HTTP 500)', () => {
  it(
    '§4.3 cached mode: source 500 → old snapshot until the TTL, then 503 cache_expired after one request-triggered refresh; recovery when the source returns',
    { timeout: 90_000 },
    async (t) => {
      const p = await startPolled({ payload: GOOD });
      t.after(() => p.close());
      const loadedAt = (await health(p))['lastRefreshAt'] as number;
      assert.equal(typeof loadedAt, 'number');

      p.server.behaviour = { kind: 'status', status: 500 };
      const failing = p.mark();
      await p.logAfter(failing, (l) => fetchFailed('fetch_status')(l) && l['trigger'] === 'poll' && l['status'] === 500, 15_000);
      // Within the TTL: a failed poll changes nothing for clients, but is reported.
      const inTtl = await p.get('/v1/secrets');
      assert.equal(inTtl.status, 200);
      assert.deepEqual(inTtl.json(), GOOD);
      const h1 = await health(p);
      assert.equal(h1.lastError?.code, 'fetch_status');
      assert.equal(h1.lastError?.status, 500);
      assert.equal(h1['lastRefreshAt'], loadedAt, 'a failed fetch is not a successful refresh');

      // The TTL runs out.
      await until(async () => (await p.get('/v1/ready')).status === 503, 45_000, '/v1/ready 503');
      assert.ok(Date.now() - loadedAt > TTL_MS - 1_000, 'not before CACHE_TTL has passed');
      assert.deepEqual((await p.get('/v1/ready')).json(), { ready: false, reason: 'cache_expired' });
      assert.equal((await health(p))['expired'], true);

      // Right after a failed poll (the next is ≥ 5 s away), a request tries one refresh itself.
      const afterPoll = p.mark();
      await p.logAfter(afterPoll, (l) => fetchFailed('fetch_status')(l) && l['trigger'] === 'poll', 15_000);
      const seen = p.server.requests.length;
      const fromRequest = p.mark();
      assertRefused(await p.get('/v1/secrets'), 503, 'cache_expired');
      assert.ok(p.server.requests.length > seen, 'the request fetched the source before answering 503');
      await p.logAfter(fromRequest, (l) => fetchFailed('fetch_status')(l) && l['trigger'] === 'request', 5_000);
      const perRefresh = p.server.requests.length - seen;

      // Concurrent requests share one refresh: the source sees one refresh's worth of fetches.
      const again = p.mark();
      await p.logAfter(again, (l) => fetchFailed('fetch_status')(l) && l['trigger'] === 'poll', 15_000);
      const seen5 = p.server.requests.length;
      const answers = await Promise.all(Array.from({ length: 5 }, () => p.get('/v1/secrets')));
      for (const a of answers) assertRefused(a, 503, 'cache_expired');
      assert.equal(p.server.requests.length - seen5, perRefresh, `5 concurrent requests share one refresh (${perRefresh} fetches per refresh)`);
      assertRefused(await p.get('/v1/keys'), 503, 'cache_expired');
      assertRefused(await p.get('/v1/secrets/app__API_KEY'), 503, 'cache_expired');
      assert.equal((await health(p))['keys'], 0, 'the stale snapshot was dropped');

      // The source comes back: again right after a failed poll, a request's own refresh recovers.
      const beforeBack = p.mark();
      await p.logAfter(beforeBack, (l) => fetchFailed('fetch_status')(l) && l['trigger'] === 'poll', 15_000);
      p.server.behaviour = { kind: 'serve' };
      const back = p.mark();
      const r = await p.get('/v1/secrets');
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json(), GOOD);
      const line = await p.logAfter(back, refreshed(), 5_000);
      assert.equal(line['trigger'], 'request');
      assert.deepEqual((await p.get('/v1/ready')).json(), { ready: true });
      const h2 = await health(p);
      assert.equal(h2['expired'], false);
      assert.equal(h2.lastError, null);
      assert.ok((h2['lastRefreshAt'] as number) > loadedAt);
    },
  );
});
