/**
 * SPEC §4.3 steps 2 (shape), 3 (identity/environment) and 5 (integrity), through the real process:
 * after a good load, the served artifact is swapped at the server; the next poll (every 5 s) must
 * reject it, log why, report it in /v1/health, and keep serving the last good snapshot.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { assertServing, health, invalid, startPolled, type Polled } from '../helpers/scenario.js';
import type { BuildOptions } from '../helpers/artifacts.js';

const GOOD = { app: { API_KEY: 'good-api-key', DATABASE_URL: 'postgres://good' }, payments: { STRIPE_KEY: 'good-stripe' } };
const OTHER = { app: { API_KEY: 'attacker-api-key' } };

interface Case {
  readonly env?: Record<string, string>;
  readonly first?: Omit<BuildOptions, 'recipient' | 'payload'>;
  /** The replacement artifact's bytes. */
  readonly bad: (p: Polled) => Promise<string> | string;
  readonly code: string;
}

/** Start on GOOD (revision rev-good), swap in the bad artifact, expect `code` and GOOD still served. */
async function rejectsAndKeepsServing(t: TestContext, c: Case): Promise<Polled> {
  const p = await startPolled({ payload: GOOD, first: { revision: 'rev-good', ...c.first }, env: c.env });
  t.after(() => p.close());
  await assertServing(p, GOOD);
  const line = await p.swap(await c.bad(p), invalid(c.code));
  // SPEC §7: artifact.invalid is an ERROR event (the agent still serves, but what it fetched is bad).
  assert.equal(line['level'], 'error');
  await assertServing(p, GOOD);
  const h = await health(p);
  assert.equal(h.revision, 'rev-good');
  assert.equal(h.lastError?.code, c.code);
  // Health carries the code only; the explanation is in the log.
  assert.deepEqual(Object.keys(h.lastError ?? {}).sort(), ['at', 'code']);
  assert.match(String(line['msg']), /^artifact rejected, still serving the last good one if any: ./);
  assert.equal(h.state, 'ok');
  // The rejected artifact's secret never shows up anywhere.
  assert.ok(!p.agent.output.includes('attacker-api-key'));
  return p;
}

describe('§4.3 step 2: shape check', { concurrency: true }, () => {
  it(
    '§4.3 step 2: malformed JSON is rejected (invalid_json), the old snapshot is still served, and it is not a successful refresh',
    { timeout: 60_000 },
    async (t) => {
      const p = await rejectsAndKeepsServing(t, { bad: () => '{"version": 1, "identity": "api", ', code: 'invalid_json' });
      // §4.1: a fetch that returned a rejected artifact is not a successful refresh: lastRefreshAt stays.
      const before = (await health(p))['lastRefreshAt'];
      await p.logAfter(p.mark(), invalid('invalid_json'));
      assert.equal((await health(p))['lastRefreshAt'], before);
      await assertServing(p, GOOD);
    },
  );

  it('§4.3 step 2: version 2 is rejected (unsupported_version) and the old snapshot is still served', { timeout: 45_000 }, async (t) => {
    await rejectsAndKeepsServing(t, { bad: (p) => p.artifact({ payload: OTHER, mutate: (a) => (a['version'] = 2) }), code: 'unsupported_version' });
  });

  it('§4.3 step 2: version "1" (a string) is rejected (unsupported_version)', { timeout: 45_000 }, async (t) => {
    await rejectsAndKeepsServing(t, { bad: (p) => p.artifact({ payload: OTHER, mutate: (a) => (a['version'] = '1') }), code: 'unsupported_version' });
  });

  it(
    '§4.3 step 2: a missing required field (ciphertextHash) is rejected (invalid_shape) and the old snapshot is still served',
    { timeout: 45_000 },
    async (t) => {
      await rejectsAndKeepsServing(t, { bad: (p) => p.artifact({ payload: OTHER, mutate: (a) => delete a['ciphertextHash'] }), code: 'invalid_shape' });
    },
  );

  it('§4.3 step 2: a wrongly typed field (packedAt not a date) is rejected (invalid_shape)', { timeout: 45_000 }, async (t) => {
    await rejectsAndKeepsServing(t, { bad: (p) => p.artifact({ payload: OTHER, mutate: (a) => (a['packedAt'] = 'yesterday') }), code: 'invalid_shape' });
  });

  it('§4.3 step 2: a JSON array instead of an object is rejected (invalid_shape)', { timeout: 45_000 }, async (t) => {
    await rejectsAndKeepsServing(t, { bad: () => '[1, 2, 3]', code: 'invalid_shape' });
  });
});

describe('§4.3 step 3: identity and environment', { concurrency: true }, () => {
  it('§4.3 step 3: an artifact for another identity is rejected with CLEF_AGENT_EXPECT_IDENTITY (identity_mismatch)', { timeout: 45_000 }, async (t) => {
    await rejectsAndKeepsServing(t, {
      env: { CLEF_AGENT_EXPECT_IDENTITY: 'api' },
      first: { identity: 'api' },
      bad: (p) => p.artifact({ payload: OTHER, identity: 'billing' }),
      code: 'identity_mismatch',
    });
  });

  it('§4.3 step 3: an artifact for another environment is rejected with CLEF_AGENT_EXPECT_ENVIRONMENT (identity_mismatch)', { timeout: 45_000 }, async (t) => {
    await rejectsAndKeepsServing(t, {
      env: { CLEF_AGENT_EXPECT_ENVIRONMENT: 'production' },
      first: { environment: 'production' },
      bad: (p) => p.artifact({ payload: OTHER, environment: 'staging' }),
      code: 'identity_mismatch',
    });
  });

  it('§4.3 step 3: without CLEF_AGENT_EXPECT_* any identity is accepted', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD, first: { identity: 'api' } });
    t.after(() => p.close());
    const next = { app: { API_KEY: 'billing-key' } };
    await p.swap(
      await p.artifact({ payload: next, identity: 'billing', revision: 'rev-billing' }),
      (l) => l.event === 'artifact.refreshed' && l['revision'] === 'rev-billing',
    );
    await assertServing(p, next);
  });
});

describe('§4.3 step 5: integrity', { concurrency: true }, () => {
  it('§4.3 step 5: tampered ciphertext (hash mismatch) is rejected (integrity) and the old snapshot is still served', { timeout: 45_000 }, async (t) => {
    await rejectsAndKeepsServing(t, {
      bad: async (p) => {
        // A different, perfectly decryptable age file under the original hash.
        const other = JSON.parse(await p.artifact({ payload: OTHER })) as Record<string, unknown>;
        return p.artifact({ payload: GOOD, mutate: (a) => (a['ciphertext'] = other['ciphertext']) });
      },
      code: 'integrity',
    });
  });

  it('§4.3 step 5: a hash over the decoded bytes instead of the base64 text is rejected (integrity)', { timeout: 45_000 }, async (t) => {
    const { createHash } = await import('node:crypto');
    await rejectsAndKeepsServing(t, {
      bad: (p) =>
        p.artifact({
          payload: OTHER,
          mutate: (a) =>
            (a['ciphertextHash'] = createHash('sha256')
              .update(Buffer.from(a['ciphertext'] as string, 'base64'))
              .digest('hex')),
        }),
      code: 'integrity',
    });
  });
});
