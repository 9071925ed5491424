/**
 * SPEC §4.3 step 1: `revokedAt` is the kill switch. Through the real process, after a good load:
 * the revoked copy is swapped in at the server and the next poll must drop the snapshot and stop
 * serving (503 `revoked`), even for a malformed or unsigned artifact; a later valid artifact ends
 * the revocation, a replayed one does not.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { signingKey } from '../helpers/artifacts.js';
import { assertErrorBody } from '../kit/index.js';
import { assertServing, health, invalid, isEvent, isoIn, type Polled, refreshed, startPolled } from '../helpers/scenario.js';

const GOOD = { app: { API_KEY: 'pre-revocation-key', DATABASE_URL: 'postgres://pre-revocation' } };
const NEXT = { app: { API_KEY: 'post-revocation-key' } };
const SECRET_ROUTES = ['/v1/secrets', '/v1/keys', '/v1/secrets/app__API_KEY', '/v1/secrets/API_KEY', '/v1/secrets/app/API_KEY'];

/** The served artifact with `revokedAt` added (what `clef-agent pack --revoke-from` produces). */
function revokedCopy(body: string, revokedAt = new Date().toISOString()): string {
  return JSON.stringify({ ...(JSON.parse(body) as object), revokedAt });
}

async function assertRevoked(p: Polled, revokedAt?: string): Promise<void> {
  const ready = await p.get('/v1/ready');
  assert.equal(ready.status, 503, ready.body);
  assert.deepEqual(ready.json(), { ready: false, reason: 'revoked' });
  for (const path of SECRET_ROUTES) assertErrorBody(await p.get(path), 503, 'revoked');
  const h = await health(p);
  assert.equal(h.lastError?.code, 'revoked');
  assert.equal(h['keys'], 0);
  assert.equal(h.revision, null);
  if (revokedAt !== undefined) assert.equal(h['revokedAt'], revokedAt);
}

describe('§4.3 step 1: revocation', { concurrency: true }, () => {
  it('§4.3 step 1: revokedAt drops the snapshot and /v1/ready says revoked', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD });
    t.after(() => p.close());
    await assertServing(p, GOOD);
    const at = new Date().toISOString();
    const line = await p.swap(revokedCopy(p.server.body, at), isEvent('artifact.revoked'));
    assert.equal(line['revokedAt'], at);
    await assertRevoked(p, at);
    // Still revoked after further polls of the same revoked artifact.
    await p.logAfter(p.mark(), isEvent('artifact.revoked'));
    await assertRevoked(p, at);
  });

  it('§4.3 step 1: revocation with an otherwise malformed artifact ({"revokedAt":"now"}) still drops everything', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD });
    t.after(() => p.close());
    await p.swap('{"revokedAt":"now"}', isEvent('artifact.revoked'));
    await assertRevoked(p, 'now');
  });

  it('§4.3 step 1: revocation needs no signature, even with CLEF_AGENT_VERIFY_KEY set', { timeout: 45_000 }, async (t) => {
    const key = signingKey('ed25519');
    const p = await startPolled({ payload: GOOD, first: { sign: key }, env: { CLEF_AGENT_VERIFY_KEY: key.verifyKey } });
    t.after(() => p.close());
    await assertServing(p, GOOD);
    await p.swap(JSON.stringify({ revokedAt: new Date().toISOString(), version: 'garbage' }), isEvent('artifact.revoked'));
    await assertRevoked(p);
  });

  it('§4.3 step 1: a later valid, non-revoked artifact ends the revocation', { timeout: 60_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD, first: { packedAt: isoIn(-60_000) } });
    t.after(() => p.close());
    await p.swap(revokedCopy(p.server.body), isEvent('artifact.revoked'));
    await assertRevoked(p);
    const line = await p.swap(await p.artifact({ payload: NEXT, revision: 'rev-after', packedAt: new Date().toISOString() }), refreshed('rev-after'));
    assert.equal(line['endedRevocation'], true);
    await assertServing(p, NEXT);
    const h = await health(p);
    assert.equal(h['revokedAt'], null);
    assert.equal(h.lastError, null);
    assert.equal(h.revision, 'rev-after');
  });

  it('§4.3 step 1 + 7: an older artifact (replayed) does not end the revocation (rollback)', { timeout: 60_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD });
    t.after(() => p.close());
    await p.swap(revokedCopy(p.server.body), isEvent('artifact.revoked'));
    await p.swap(await p.artifact({ payload: NEXT, packedAt: isoIn(-3600_000) }), invalid('rollback'));
    const ready = await p.get('/v1/ready');
    assert.deepEqual(ready.json(), { ready: false, reason: 'revoked' });
    for (const path of SECRET_ROUTES) assertErrorBody(await p.get(path), 503, 'revoked');
  });

  it('§4.3 step 1: the revoked artifact itself, served again without revokedAt, does not end the revocation', { timeout: 60_000 }, async (t) => {
    // The kill switch must survive a stale cache or an attacker re-publishing the pre-revocation
    // file: only a *later* artifact ends it (same packedAt is not later).
    const p = await startPolled({ payload: GOOD });
    t.after(() => p.close());
    const original = p.server.body;
    await p.swap(revokedCopy(original), isEvent('artifact.revoked'));
    await p.swap(original, invalid('rollback'));
    const ready = await p.get('/v1/ready');
    assert.deepEqual(ready.json(), { ready: false, reason: 'revoked' });
    for (const path of SECRET_ROUTES) assertErrorBody(await p.get(path), 503, 'revoked');
    assert.ok(!p.agent.logs().some((l) => l.event === 'artifact.refreshed' && l['endedRevocation'] === true));
  });
});
