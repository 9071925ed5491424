/**
 * SPEC §4.3 step 8 (decrypt and check the payload, §2.1) and step 7 (rollback), through the real
 * process: after a good load the artifact is swapped at the server; the next poll must reject it
 * and keep serving the last good snapshot.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ageKeyPair } from '../helpers/artifacts.js';
import { assertRejected, assertServing, health, invalid, isoIn, refreshed, startPolled, type Polled } from '../helpers/scenario.js';

const GOOD = { app: { API_KEY: 'good-before-step-8' } };

async function goodAgent(t: TestContext, packedAt?: string): Promise<Polled> {
  const p = await startPolled({ payload: GOOD, first: { revision: 'rev-good', ...(packedAt ? { packedAt } : {}) } });
  t.after(() => p.close());
  await assertServing(p, GOOD);
  return p;
}

const rejected = (p: Polled, body: string, code: string): Promise<void> => assertRejected(p, body, code, { payload: GOOD, revision: 'rev-good' });

describe('§4.3 step 8: decrypt and payload check', { concurrency: true }, () => {
  it('§4.3 step 8: an artifact for another age key (wrong key) is rejected (decrypt_failed)', { timeout: 45_000 }, async (t) => {
    const p = await goodAgent(t);
    const stranger = await ageKeyPair();
    await rejected(p, await p.artifact({ payload: { app: { API_KEY: 'not-for-you' } }, recipient: stranger.recipient }), 'decrypt_failed');
  });

  it('§4.3 step 8: a corrupted age file with a matching hash is rejected (decrypt_failed)', { timeout: 45_000 }, async (t) => {
    const p = await goodAgent(t);
    const body = await p.artifact({
      payload: GOOD,
      mutate: (a) => {
        const bytes = Buffer.from(a['ciphertext'] as string, 'base64');
        bytes[bytes.length - 5] = (bytes[bytes.length - 5] ?? 0) ^ 0xff;
        a['ciphertext'] = bytes.toString('base64');
        a['ciphertextHash'] = createHash('sha256')
          .update(a['ciphertext'] as string, 'utf8')
          .digest('hex');
      },
    });
    await rejected(p, body, 'decrypt_failed');
  });

  it('§4.3 step 8: a non-string leaf in the payload is rejected (invalid_payload)', { timeout: 45_000 }, async (t) => {
    const p = await goodAgent(t);
    await rejected(p, await p.artifact({ payload: { app: { PORT: 5432 } } }), 'invalid_payload');
  });

  it('§4.3 step 8: deeper nesting is rejected (invalid_payload)', { timeout: 45_000 }, async (t) => {
    const p = await goodAgent(t);
    await rejected(p, await p.artifact({ payload: { app: { db: { URL: 'x' } } } }), 'invalid_payload');
  });

  it('§4.3 step 8: a mix of strings and namespaces at the top level is rejected (invalid_payload)', { timeout: 45_000 }, async (t) => {
    const p = await goodAgent(t);
    await rejected(p, await p.artifact({ payload: { API_KEY: 'flat', app: { X: 'nested' } } }), 'invalid_payload');
  });

  it('§4.3 step 8: a payload that names a key twice is rejected (invalid_payload), whichever value a parser would keep', { timeout: 45_000 }, async (t) => {
    const p = await goodAgent(t);
    await rejected(p, await p.artifact({ payload: '{"app":{"API_KEY":"one","\\u0041PI_KEY":"two","\\u005C":""}}' }), 'invalid_payload');
  });

  it('§4.3 step 8: a plaintext that is not JSON is rejected (invalid_payload)', { timeout: 45_000 }, async (t) => {
    const p = await goodAgent(t);
    await rejected(p, await p.artifact({ payload: 'API_KEY=dotenv-style' }), 'invalid_payload');
  });

  it('§4.3 step 8: a JSON array payload is rejected (invalid_payload)', { timeout: 45_000 }, async (t) => {
    const p = await goodAgent(t);
    await rejected(p, await p.artifact({ payload: '["a","b"]' }), 'invalid_payload');
  });
});

describe('§4.3 step 7: rollback', { concurrency: true }, () => {
  it('§4.3 step 7: an artifact with an older packedAt is rejected (rollback) and the old snapshot is still served', { timeout: 45_000 }, async (t) => {
    const p = await goodAgent(t);
    await rejected(p, await p.artifact({ payload: { app: { API_KEY: 'rolled-back' } }, packedAt: isoIn(-3600_000), revision: 'rev-old' }), 'rollback');
  });

  it(
    '§4.3 step 7: the same packedAt is not a rollback: new content is validated in full and served, whatever its revision says',
    { timeout: 45_000 },
    async (t) => {
      const packedAt = new Date().toISOString();
      const p = await goodAgent(t, packedAt);
      const next = { app: { API_KEY: 'same-instant-new-content' } };
      // Same revision string as the served one: change detection is by content (§4.1), not revision.
      const line = await p.swap(await p.artifact({ payload: next, packedAt, revision: 'rev-good' }), refreshed('rev-good'));
      assert.equal(line['trigger'], 'poll');
      await assertServing(p, next);
    },
  );

  it('§4.3 step 7: after a newer artifact was served, the previous one replayed is a rollback', { timeout: 60_000 }, async (t) => {
    const p = await goodAgent(t, isoIn(-60_000));
    const original = p.server.body;
    const next = { app: { API_KEY: 'newer' } };
    await p.swap(await p.artifact({ payload: next, revision: 'rev-newer' }), refreshed('rev-newer'));
    await p.swap(original, invalid('rollback'));
    const s = await p.get('/v1/secrets');
    assert.deepEqual(s.json(), next);
    assert.equal((await health(p)).revision, 'rev-newer');
  });
});
