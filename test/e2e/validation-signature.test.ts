/**
 * SPEC §4.3 step 6 (§2.2): with CLEF_AGENT_VERIFY_KEY, unsigned or badly signed artifacts are
 * rejected; the verify key's type picks the algorithm, never the artifact's claim. Both Ed25519
 * and ECDSA P-256, through the real process: start signed, swap at the server, wait for the poll.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { sign } from 'node:crypto';
import { signingPayload } from '../../common/artifact.js';
import { signingKey, type SigningKey } from '../helpers/artifacts.js';
import { assertRejected, assertServing, refreshed, startPolled, type Polled } from '../helpers/scenario.js';

const GOOD = { app: { API_KEY: 'signed-good-key' } };
const EVIL = { app: { API_KEY: 'forged-evil-key' } };
const NAMES = { ed25519: 'Ed25519', p256: 'ECDSA P-256' } as const;
const CLAIMS = { ed25519: 'Ed25519', p256: 'ECDSA_SHA256' } as const;

async function signedAgent(t: TestContext, key: SigningKey): Promise<Polled> {
  const p = await startPolled({ payload: GOOD, first: { sign: key, revision: 'rev-signed' }, env: { CLEF_AGENT_VERIFY_KEY: key.verifyKey } });
  t.after(() => p.close());
  await assertServing(p, GOOD);
  return p;
}

async function rejected(p: Polled, body: string, code: string): Promise<void> {
  await assertRejected(p, body, code, { payload: GOOD, revision: 'rev-signed' });
  assert.ok(!p.agent.output.includes('forged-evil-key'));
}

for (const type of ['ed25519', 'p256'] as const) {
  const other = type === 'ed25519' ? 'p256' : 'ed25519';
  const name = NAMES[type];

  describe(`§4.3 step 6: signature with a ${name} verify key`, { concurrency: true }, () => {
    it(`§4.3 step 6 (${name}): a signed artifact is served, and a newly signed one replaces it`, { timeout: 45_000 }, async (t) => {
      const key = signingKey(type);
      const p = await signedAgent(t, key);
      const start = p.agent.logs().find(refreshed());
      assert.equal(start?.['signed'], true);
      const next = { app: { API_KEY: 'signed-next-key' } };
      const line = await p.swap(await p.artifact({ payload: next, sign: key, revision: 'rev-next' }), refreshed('rev-next'));
      assert.equal(line['signed'], true);
      await assertServing(p, next);
    });

    it(`§4.3 step 6 (${name}): an unsigned artifact is rejected (signature_missing)`, { timeout: 45_000 }, async (t) => {
      const p = await signedAgent(t, signingKey(type));
      await rejected(p, await p.artifact({ payload: EVIL }), 'signature_missing');
    });

    it(`§4.3 step 6 (${name}): a signed field changed after signing (revision) is rejected (signature_invalid)`, { timeout: 45_000 }, async (t) => {
      const key = signingKey(type);
      const p = await signedAgent(t, key);
      await rejected(
        p,
        await p.artifact({ payload: GOOD, sign: key, revision: 'rev-a', mutate: (a) => (a['revision'] = 'rev-tampered') }),
        'signature_invalid',
      );
    });

    it(`§4.3 step 6 (${name}): expiresAt added after signing is rejected (signature_invalid)`, { timeout: 45_000 }, async (t) => {
      const key = signingKey(type);
      const p = await signedAgent(t, key);
      await rejected(p, await p.artifact({ payload: GOOD, sign: key, mutate: (a) => (a['expiresAt'] = '2099-01-01T00:00:00Z') }), 'signature_invalid');
    });

    it(`§4.3 step 6 (${name}): an artifact signed by another ${name} key is rejected (signature_invalid)`, { timeout: 45_000 }, async (t) => {
      const p = await signedAgent(t, signingKey(type));
      await rejected(p, await p.artifact({ payload: EVIL, sign: signingKey(type) }), 'signature_invalid');
    });

    it(
      `§4.3 step 6 (${name}): the algorithm claim cannot downgrade: signed with ${NAMES[other]} and claiming it → rejected`,
      { timeout: 45_000 },
      async (t) => {
        const p = await signedAgent(t, signingKey(type));
        await rejected(p, await p.artifact({ payload: EVIL, sign: signingKey(other) }), 'signature_invalid');
      },
    );

    it(`§4.3 step 6 (${name}): signatureAlgorithm is informational: a valid signature with a wrong claim is accepted`, { timeout: 45_000 }, async (t) => {
      const key = signingKey(type);
      const p = await signedAgent(t, key);
      const next = { app: { API_KEY: 'claim-ignored' } };
      await p.swap(
        await p.artifact({ payload: next, sign: key, revision: 'rev-claim', mutate: (a) => (a['signatureAlgorithm'] = CLAIMS[other]) }),
        refreshed('rev-claim'),
      );
      await assertServing(p, next);
    });

    it(`§4.3 step 6 (${name}): a signature that is not base64 is rejected (signature_invalid)`, { timeout: 45_000 }, async (t) => {
      const key = signingKey(type);
      const p = await signedAgent(t, key);
      await rejected(p, await p.artifact({ payload: EVIL, sign: key, mutate: (a) => (a['signature'] = '%%%not-base64%%%') }), 'signature_invalid');
    });

    if (type === 'p256') {
      it('§4.3 step 6 (ECDSA P-256): a raw r||s (IEEE P1363) signature is rejected: DER is required', { timeout: 45_000 }, async (t) => {
        const key = signingKey('p256');
        const p = await signedAgent(t, key);
        const body = await p.artifact({
          payload: EVIL,
          mutate: (a) => {
            a['signature'] = sign('sha256', signingPayload(a as never), { key: key.privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64');
            a['signatureAlgorithm'] = 'ECDSA_SHA256';
          },
        });
        await rejected(p, body, 'signature_invalid');
      });
    }
  });
}
