/**
 * SPEC §4 in JIT mode (CACHE_TTL=0, §5.2) through the real process: the same validation rows hold
 * when only the encrypted artifact is held; age artifacts stop being served after MAX_STALE
 * without a successful refresh; a request is answered from the artifact current when it arrived.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { assertErrorBody, request, waitUntil } from '../kit/index.js';
import { assertServing, fetchFailed, health, invalid, isEvent, isoIn, refreshed, startPolled } from '../helpers/scenario.js';
import { artifactJson } from '../helpers/artifacts.js';

const JIT = { CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_POLL_INTERVAL: '5' } as const;
const GOOD = { app: { API_KEY: 'jit-good', DATABASE_URL: 'postgres://jit' } };
const SECRET_ROUTES = ['/v1/secrets', '/v1/keys', '/v1/secrets/app__API_KEY'];

describe('§4.3 in JIT mode', { concurrency: true }, () => {
  it('§4.3 step 1 (JIT): revokedAt stops serving (503 revoked); a later artifact ends the revocation', { timeout: 60_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD, first: { packedAt: isoIn(-60_000) }, env: JIT });
    t.after(() => p.close());
    await assertServing(p, GOOD);
    assert.equal((await health(p))['mode'], 'jit');
    await p.swap(JSON.stringify({ ...(JSON.parse(p.server.body) as object), revokedAt: new Date().toISOString() }), isEvent('artifact.revoked'));
    assert.deepEqual((await p.get('/v1/ready')).json(), { ready: false, reason: 'revoked' });
    for (const path of SECRET_ROUTES) assertErrorBody(await p.get(path), 503, 'revoked');
    const next = { app: { API_KEY: 'jit-after-revocation' } };
    await p.swap(await p.artifact({ payload: next, revision: 'rev-jit-next' }), refreshed('rev-jit-next'));
    await assertServing(p, next);
  });

  it('§4.3 steps 5 and 8 (JIT): a tampered or undecryptable artifact is rejected and the old one is still served', { timeout: 60_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD, env: JIT });
    t.after(() => p.close());
    await p.swap(await p.artifact({ payload: { app: { API_KEY: 'x' } }, mutate: (a) => (a['ciphertextHash'] = '0'.repeat(64)) }), invalid('integrity'));
    await assertServing(p, GOOD);
    // JIT still decrypts once at load to prove the payload: an invalid payload is rejected there.
    await p.swap(await p.artifact({ payload: { app: { PORT: 1 } } }), invalid('invalid_payload'));
    await assertServing(p, GOOD);
    assert.equal((await health(p)).lastError?.code, 'invalid_payload');
  });

  it('§4.3 step 4 (JIT): once expiresAt passes the artifact is no longer served (503 expired)', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ firstFetch: (k) => artifactJson({ recipient: k.recipient, payload: GOOD, expiresAt: isoIn(7_000) }), env: JIT });
    t.after(() => p.close());
    await assertServing(p, GOOD);
    p.server.behaviour = { kind: 'hang' };
    await waitUntil(async () => (await p.get('/v1/ready')).status === 503, 20_000, 'expired');
    assert.deepEqual((await p.get('/v1/ready')).json(), { ready: false, reason: 'expired' });
    for (const path of SECRET_ROUTES) assertErrorBody(await p.get(path), 503, 'expired');
  });

  it('§4.3 JIT: an age artifact stops being served after CLEF_AGENT_MAX_STALE without a successful refresh, and recovers', { timeout: 60_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD, env: { ...JIT, CLEF_AGENT_MAX_STALE: '10' } });
    t.after(() => p.close());
    const loadedAt = (await health(p))['lastRefreshAt'] as number;
    p.server.behaviour = { kind: 'status', status: 500 };
    await p.logAfter(p.mark(), fetchFailed('fetch_status'), 15_000);
    await waitUntil(async () => (await p.get('/v1/ready')).status === 503, 20_000, 'stale');
    assert.ok(Date.now() - loadedAt > 9_000, 'not before MAX_STALE');
    assert.deepEqual((await p.get('/v1/ready')).json(), { ready: false, reason: 'cache_expired' });
    for (const path of SECRET_ROUTES) assertErrorBody(await p.get(path), 503, 'cache_expired');
    p.server.behaviour = { kind: 'serve' };
    await waitUntil(async () => (await p.get('/v1/ready')).status === 200, 20_000, 'recovered');
    await assertServing(p, GOOD);
  });

  it('§4.3 step 9 (JIT): while the artifact changes from A to B every answer is entirely A or entirely B', { timeout: 60_000 }, async (t) => {
    const payload = (tag: string): Record<string, Record<string, string>> => ({
      app: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`K${i}`, `${tag}-${i}`])),
      other: { [`ONLY_${tag}`]: tag },
    });
    const A = payload('A');
    const B = payload('B');
    const p = await startPolled({ payload: A, env: JIT });
    t.after(() => p.close());
    const seen = { A: 0, B: 0 };
    const swap: { at?: number } = {};
    const hardStop = Date.now() + 40_000;
    const client = async (): Promise<void> => {
      while (Date.now() < hardStop && (swap.at === undefined || Date.now() < swap.at + 3_000)) {
        const r = await request(p.agent.port, '/v1/secrets', { token: p.agent.token });
        assert.equal(r.status, 200, r.body);
        if (r.body === JSON.stringify(A)) seen.A++;
        else if (r.body === JSON.stringify(B)) seen.B++;
        else assert.fail(`an answer mixes A and B: ${r.body.slice(0, 120)}`);
      }
    };
    const clients = [client(), client(), client()];
    const from = p.mark();
    p.server.body = await p.artifact({ payload: B, revision: 'rev-B' });
    await p.logAfter(from, refreshed('rev-B'));
    swap.at = Date.now();
    await Promise.all(clients);
    t.diagnostic(`answers seen: ${JSON.stringify(seen)}`);
    assert.ok(seen.A > 0 && seen.B > 0);
  });
});
