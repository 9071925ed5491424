/**
 * SPEC §4.3 cached mode, source answering 500, end to end: the real agent's poll fails in a real
 * worker, /v1/health reports it, and clients are still served the last good snapshot. What
 * follows once CACHE_TTL passes (at least 30 s) — 503 `cache_expired` after one request-triggered
 * refresh, concurrent requests sharing it, the stale snapshot wiped, recovery — is driven on a
 * fake clock by test/unit/refresher-ttl.test.ts instead of waiting it out here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fetchFailed, health, startPolled } from '../helpers/scenario.js';

const GOOD = { app: { API_KEY: 'ttl-value', DATABASE_URL: 'postgres://ttl' } };

describe('§4.3 cached mode: a failing source (HTTP 500) within CACHE_TTL', () => {
  it('§4.3 cached mode: source 500 → the failed poll is reported in /v1/health and the last good snapshot is still served', { timeout: 60_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD });
    t.after(() => p.close());
    const loadedAt = (await health(p))['lastRefreshAt'] as number;
    assert.equal(typeof loadedAt, 'number');

    p.server.behaviour = { kind: 'status', status: 500 };
    const failing = p.mark();
    await p.logAfter(failing, (l) => fetchFailed('fetch_status')(l) && l['trigger'] === 'poll' && l['status'] === 500, 15_000);
    const inTtl = await p.get('/v1/secrets');
    assert.equal(inTtl.status, 200);
    assert.deepEqual(inTtl.json(), GOOD);
    assert.deepEqual((await p.get('/v1/ready')).json(), { ready: true });
    const h = await health(p);
    assert.equal(h.lastError?.code, 'fetch_status');
    assert.equal(h.lastError?.status, 500);
    assert.equal(h['lastRefreshAt'], loadedAt, 'a failed fetch is not a successful refresh');
    assert.equal(h['expired'], false);
  });
});
