/**
 * CLEF_AGENT_MAX_KEYS through the real process, in both modes: an artifact whose payload holds more
 * keys than the limit is rejected (too_many_keys, naming the count and the limit, never a value)
 * and the last good snapshot keeps being served. In JIT mode the single-key route, which scans the
 * plaintext instead of parsing it, answers every lookup form.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertErrorBody } from '../kit/index.js';
import { assertRejected, assertServing, health, refreshed, startPolled } from '../helpers/scenario.js';

const GOOD = { app: { API_KEY: 'limit-good', DATABASE_URL: 'postgres://limit' }, pay: { API_KEY: 'limit-pay' } };
const OVER = { app: { A: 'OVERLIMIT-1', B: 'OVERLIMIT-2' }, pay: { C: 'OVERLIMIT-3', D: 'OVERLIMIT-4' } };

describe('CLEF_AGENT_MAX_KEYS', { concurrency: true }, () => {
  for (const mode of ['cached', 'jit'] as const) {
    it(`${mode}: a payload over the limit is rejected (too_many_keys) and the last good one is still served`, { timeout: 60_000 }, async (t) => {
      const env = { CLEF_AGENT_MAX_KEYS: '3', ...(mode === 'jit' ? { CLEF_AGENT_CACHE_TTL: '0' } : {}) };
      const p = await startPolled({ payload: GOOD, first: { revision: 'rev-good' }, env });
      t.after(() => p.close());
      await assertServing(p, GOOD);
      await assertRejected(p, await p.artifact({ payload: OVER, revision: 'rev-over' }), 'too_many_keys', { payload: GOOD, revision: 'rev-good' });
      // Health carries the code only; the explanation is in the log line of the rejection.
      assert.equal((await health(p)).lastError?.code, 'too_many_keys');
      const message = String(p.agent.logs().findLast((l) => l.event === 'artifact.invalid')?.['msg'] ?? '');
      assert.match(message, /has 4 keys, more than CLEF_AGENT_MAX_KEYS allows \(3\)/);
      assert.doesNotMatch(message, /OVERLIMIT/);
      assert.equal((await p.get('/v1/secrets/app__API_KEY')).json<{ value: string }>().value, 'limit-good');
      // At the limit is fine.
      const three = { app: { A: 'at-1', B: 'at-2', C: 'at-3' } };
      await p.swap(await p.artifact({ payload: three, revision: 'rev-three' }), refreshed('rev-three'));
      await assertServing(p, three);
    });
  }

  it('jit: /v1/secrets/:key in every form, answered from one scan of the plaintext', { timeout: 60_000 }, async (t) => {
    const payload = '{"app":{"API_KEY":"jit-app","\\u00e9t\\u00e9":"\\ud83d\\ude00 x","__proto__":"jit-proto"},"pay":{"API_KEY":"jit-pay","ONLY":"jit-only"}}';
    const p = await startPolled({ payload, env: { CLEF_AGENT_CACHE_TTL: '0' } });
    t.after(() => p.close());
    const value = async (path: string): Promise<unknown> => {
      const r = await p.get(path);
      assert.equal(r.status, 200, `${path}: ${r.body}`);
      return r.json();
    };
    assert.deepEqual(await value('/v1/secrets/app__API_KEY'), { key: 'app__API_KEY', value: 'jit-app' });
    assert.deepEqual(await value('/v1/secrets/pay/API_KEY'), { key: 'pay__API_KEY', value: 'jit-pay' });
    assert.deepEqual(await value('/v1/secrets/ONLY'), { key: 'pay__ONLY', value: 'jit-only' });
    assert.deepEqual(await value(`/v1/secrets/${encodeURIComponent('été')}`), { key: 'app__été', value: '😀 x' });
    assert.deepEqual(await value('/v1/secrets/__proto__'), { key: 'app____proto__', value: 'jit-proto' });
    const ambiguous = await p.get('/v1/secrets/API_KEY');
    assert.equal(ambiguous.status, 409);
    assert.deepEqual(ambiguous.json(), { error: 'ambiguous key', reason: 'ambiguous_key', candidates: ['app__API_KEY', 'pay__API_KEY'] });
    assertErrorBody(await p.get('/v1/secrets/app__NOPE'), 404, 'not_found');
  });
});
