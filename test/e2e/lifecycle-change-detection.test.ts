/**
 * SPEC §4.1 change detection through the real process: the ETag goes back as `If-None-Match` and
 * a 304 skips parsing and decryption; without ETags, identical bytes are recognised and skipped
 * too. Both are successful refreshes, so they keep the cache fresh past CACHE_TTL.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { sleep, waitUntil } from '../kit/index.js';
import { assertServing, health, isEvent, refreshed, startPolled } from '../helpers/scenario.js';

const GOOD = { app: { API_KEY: 'etag-value' } };

/** The ETag the test server sends for `body`. */
function etagOf(body: string): string {
  return `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
}

const unchanged = (l: { event?: string; level?: string; [k: string]: unknown }): boolean => l.event === 'artifact.unchanged' && l['trigger'] === 'poll';

describe('§4.1 change detection', { concurrency: true }, () => {
  it('§4.1: the second poll sends If-None-Match with the ETag, the server answers 304, nothing is re-decrypted', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD });
    t.after(() => p.close());
    const before = (await health(p))['lastRefreshAt'] as number;
    const line = await p.logAfter(0, unchanged);
    assert.equal(line['level'], 'debug');
    const [first, second] = p.server.requests;
    assert.equal(first?.headers['if-none-match'], undefined, 'the first fetch is unconditional');
    assert.equal(second?.headers['if-none-match'], etagOf(p.server.body), 'the poll sends the ETag back');
    assert.equal(p.agent.logs().filter(refreshed()).length, 1, 'only the start-up load decrypted');
    // A 304 is a successful refresh.
    assert.ok(((await health(p))['lastRefreshAt'] as number) > before);
    await assertServing(p, GOOD);
  });

  it(
    '§4.1: with ETags disabled, identical bytes are not re-parsed or re-decrypted (artifact.unchanged at debug, not artifact.refreshed)',
    { timeout: 45_000 },
    async (t) => {
      const p = await startPolled({ payload: GOOD, setup: (s) => (s.etags = false) });
      t.after(() => p.close());
      const before = (await health(p))['lastRefreshAt'] as number;
      const line = await p.logAfter(0, unchanged);
      assert.equal(line['level'], 'debug');
      assert.ok(p.server.requests.length >= 2);
      for (const r of p.server.requests) assert.equal(r.headers['if-none-match'], undefined, 'no ETag, no If-None-Match');
      assert.equal(p.agent.logs().filter(refreshed()).length, 1);
      assert.ok(((await health(p))['lastRefreshAt'] as number) > before);
    },
  );

  it('§4.1: a changed artifact (new ETag) is fetched in full and validated', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD });
    t.after(() => p.close());
    const next = { app: { API_KEY: 'etag-next' } };
    const body = await p.artifact({ payload: next, revision: 'rev-etag-next' });
    await p.swap(body, refreshed('rev-etag-next'));
    await assertServing(p, next);
    // The poll after that sends the new ETag.
    const from = p.server.requests.length;
    await p.logAfter(p.mark(), unchanged);
    assert.equal(p.server.requests[from]?.headers['if-none-match'], etagOf(body));
  });

  it(
    '§4.1: an unchanged answer (304) after failed fetches is a successful refresh: /v1/health no longer reports the old error',
    { timeout: 45_000 },
    async (t) => {
      const p = await startPolled({ payload: GOOD });
      t.after(() => p.close());
      p.server.behaviour = { kind: 'status', status: 503 };
      await p.logAfter(p.mark(), (l) => l.event === 'fetch.failed' && l['status'] === 503);
      assert.equal((await health(p)).lastError?.status, 503);
      const from = p.mark();
      p.server.behaviour = { kind: 'serve' };
      await p.logAfter(from, unchanged);
      const h = await health(p);
      assert.equal(h.lastError, null, `stale lastError after recovery: ${JSON.stringify(h.lastError)}`);
      assert.equal(h.state, 'ok');
    },
  );

  it('§4.1: at the default info level, unchanged polls log nothing', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD, env: { CLEF_AGENT_LOG_LEVEL: 'info' } });
    t.after(() => p.close());
    // Until a poll has been answered (cached mode starts a worker again for it when the idle one exited).
    await waitUntil(() => p.server.requests.length >= 2, 30_000, 'a poll');
    await sleep(500);
    assert.ok(!p.agent.logs().some(isEvent('artifact.unchanged')));
    assert.equal(p.agent.logs().filter(refreshed()).length, 1);
  });

  for (const etags of [true, false]) {
    it(
      `§4.1: ${etags ? '304 answers' : 'identical bytes'} are successful refreshes: still served after more than CACHE_TTL`,
      { timeout: 60_000 },
      async (t) => {
        const p = await startPolled({ payload: GOOD, setup: (s) => (s.etags = etags) });
        t.after(() => p.close());
        const loadedAt = (await health(p))['lastRefreshAt'] as number;
        await sleep(36_000);
        assert.ok(Date.now() - loadedAt > 30_000);
        await assertServing(p, GOOD);
        assert.equal(p.agent.logs().filter(refreshed()).length, 1, 'never re-decrypted');
        assert.ok(p.agent.logs().filter(unchanged).length >= 5);
      },
    );
  }
});
