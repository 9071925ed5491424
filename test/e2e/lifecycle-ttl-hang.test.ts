/**
 * SPEC §4.3 cached mode, source hanging: the request-triggered refresh after the TTL is bounded by
 * a deadline, so clients get 503 `cache_expired` instead of hanging with the source; when the
 * source answers again, polling recovers. Real time: ~60 s, so this file runs on its own.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { health, refreshed, startPolled } from '../helpers/scenario.js';
import { assertErrorBody as assertRefused, waitUntil as until, type HttpAnswer } from '../kit/index.js';

const GOOD = { app: { API_KEY: 'hang-ttl-value' } };

/** The answer, or a rejection if the agent did not answer within `ms` (a hang, not a latency check). */
function bounded(p: Promise<HttpAnswer>, ms: number): Promise<HttpAnswer> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: the request hung with the source`)), ms)),
  );
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

describe('§4.3 cached mode: CACHE_TTL with a hanging source', () => {
  it(
    '§4.3 cached mode: source hangs → after the TTL, 503 cache_expired (the request refresh has a deadline); recovery by polling when the source answers again',
    { timeout: 120_000 },
    async (t) => {
      const p = await startPolled({ payload: GOOD });
      t.after(() => p.close());
      const loadedAt = (await health(p))['lastRefreshAt'] as number;
      p.server.behaviour = { kind: 'hang' };

      // Still served from the snapshot while a poll hangs.
      await until(() => p.server.requests.length >= 2, 15_000, 'a poll reached the hanging source');
      const during = await p.get('/v1/secrets');
      assert.equal(during.status, 200);
      assert.deepEqual(during.json(), GOOD);

      await until(async () => (await p.get('/v1/ready')).status === 503, 45_000, '/v1/ready 503');
      assert.ok(Date.now() - loadedAt > 29_000, 'not before CACHE_TTL');
      assert.deepEqual((await p.get('/v1/ready')).json(), { ready: false, reason: 'cache_expired' });
      // The refresh this request waits for hangs; the request still answers.
      assertRefused(await bounded(p.get('/v1/secrets'), 15_000), 503, 'cache_expired');
      const many = await bounded(
        Promise.all(Array.from({ length: 5 }, () => p.get('/v1/keys'))).then((all) => all[4] as HttpAnswer),
        15_000,
      );
      assertRefused(many, 503, 'cache_expired');
      // Health never blocks on the source.
      const h = await bounded(p.get('/v1/health'), 5_000);
      assert.equal(h.status, 200);
      assert.equal(h.json<{ expired: boolean }>().expired, true);

      // The source answers again: the hanging attempt times out, the next one (or the next poll) loads.
      const back = p.mark();
      p.server.behaviour = { kind: 'serve' };
      await p.logAfter(back, refreshed(), 45_000);
      await until(async () => (await p.get('/v1/ready')).status === 200, 10_000, '/v1/ready 200');
      const r = await p.get('/v1/secrets');
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json(), GOOD);
      assert.equal((await health(p))['expired'], false);
    },
  );
});
