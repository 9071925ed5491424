/**
 * SPEC §4.3 cached mode, source hanging, end to end: a poll stuck on the source in a real worker
 * never blocks the agent — secrets, health and ready answer at once while it hangs. The rest of
 * the story (after CACHE_TTL the request's refresh gives up at its deadline with 503
 * `cache_expired`; the source answering again recovers) is driven on a fake clock by
 * test/unit/refresher-ttl.test.ts instead of waiting out the TTL and the fetch timeouts here.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startPolled } from '../helpers/scenario.js';
import { waitUntil, type HttpAnswer } from '../kit/index.js';

const GOOD = { app: { API_KEY: 'hang-ttl-value' } };

/** The answer, or a rejection if the agent did not answer within `ms` (a hang, not a latency check). */
function bounded(p: Promise<HttpAnswer>, ms: number): Promise<HttpAnswer> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms: the request hung with the source`)), ms)),
  );
  return Promise.race([p, hang]).finally(() => clearTimeout(timer));
}

describe('§4.3 cached mode: a hanging source within CACHE_TTL', () => {
  it('§4.3 cached mode: while a poll hangs on the source, secrets, health and ready keep answering from the snapshot', { timeout: 60_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD });
    t.after(() => p.close());
    p.server.behaviour = { kind: 'hang' };

    await waitUntil(() => p.server.requests.length >= 2, 15_000, 'a poll reached the hanging source');
    const during = await bounded(p.get('/v1/secrets'), 5_000);
    assert.equal(during.status, 200);
    assert.deepEqual(during.json(), GOOD);
    assert.equal((await bounded(p.get('/v1/keys'), 5_000)).status, 200);
    assert.deepEqual((await bounded(p.get('/v1/ready'), 5_000)).json(), { ready: true });
    const h = await bounded(p.get('/v1/health'), 5_000);
    assert.equal(h.status, 200);
    assert.equal(h.json<{ expired: boolean }>().expired, false);
  });
});
