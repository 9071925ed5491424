/**
 * SPEC §4.3 step 4 (expiry) and the §4.1 "poll sooner before expiresAt" rule, through the real
 * process.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { artifactJson } from '../helpers/artifacts.js';
import { assertErrorBody, waitUntil } from '../kit/index.js';
import { assertServing, health, isEvent, isoIn, refreshed, startPolled } from '../helpers/scenario.js';

const GOOD = { app: { API_KEY: 'expiring-value' } };
const SECRET_ROUTES = ['/v1/secrets', '/v1/keys', '/v1/secrets/app__API_KEY'];

describe('§4.3 step 4: expiry', { concurrency: true }, () => {
  it('§4.3 step 4: once the served artifact passes expiresAt it is dropped and 503 expired, without needing a poll', { timeout: 45_000 }, async (t) => {
    let expiresAt = '';
    const p = await startPolled({ firstFetch: (k) => artifactJson({ recipient: k.recipient, payload: GOOD, expiresAt: (expiresAt = isoIn(7_000)) }) });
    t.after(() => p.close());
    await assertServing(p, GOOD);
    // From now on every fetch hangs, so no poll can complete before the expiry: only the agent's
    // own clock can stop the serving.
    p.server.behaviour = { kind: 'hang' };
    const from = p.mark();
    await waitUntil(async () => (await p.get('/v1/ready')).status === 503, 20_000, 'ready 503');
    assert.ok(Date.now() >= Date.parse(expiresAt) - 50, 'not before expiresAt');
    assert.deepEqual((await p.get('/v1/ready')).json(), { ready: false, reason: 'expired' });
    for (const path of SECRET_ROUTES) assertErrorBody(await p.get(path), 503, 'expired');
    const line = await p.logAfter(from, isEvent('artifact.expired'));
    assert.equal(line['wasServing'], true);
    const h = await health(p);
    assert.equal(h['expired'], true);
    assert.equal(h['keys'], 0);
    // No poll answered meanwhile: every fetch since the load is still hanging or timed out.
    assert.ok(
      !p.agent
        .logs()
        .slice(from)
        .some((l) => l.event === 'artifact.refreshed' || l.event === 'artifact.unchanged'),
    );
  });

  it('§4.3 step 4: a fetched artifact already past expiresAt drops the snapshot and stops serving (expired)', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD });
    t.after(() => p.close());
    await p.swap(await p.artifact({ payload: { app: { API_KEY: 'stale' } }, expiresAt: isoIn(-60_000) }), isEvent('artifact.expired'));
    assert.deepEqual((await p.get('/v1/ready')).json(), { ready: false, reason: 'expired' });
    for (const path of SECRET_ROUTES) assertErrorBody(await p.get(path), 503, 'expired');
    const h = await health(p);
    assert.equal(h.lastError?.code, 'expired');
    assert.equal(h['keys'], 0);
    assert.ok(!p.agent.output.includes('stale'));
  });

  it('§4.3 step 4: after an expiry, a fresh artifact is served again', { timeout: 60_000 }, async (t) => {
    const p = await startPolled({ firstFetch: (k) => artifactJson({ recipient: k.recipient, payload: GOOD, expiresAt: isoIn(6_000) }) });
    t.after(() => p.close());
    await waitUntil(async () => (await p.get('/v1/ready')).status === 503, 20_000, 'expired');
    assert.deepEqual((await p.get('/v1/ready')).json(), { ready: false, reason: 'expired' });
    const next = { app: { API_KEY: 'fresh-after-expiry' } };
    await p.swap(await p.artifact({ payload: next, revision: 'rev-fresh', expiresAt: isoIn(3600_000) }), refreshed('rev-fresh'));
    await assertServing(p, next);
    assert.equal((await health(p))['expired'], false);
  });

  it('§4.1: the agent polls sooner, at 80 % of the time left to expiresAt, than a longer POLL_INTERVAL', { timeout: 45_000 }, async (t) => {
    // POLL_INTERVAL 40 s, expiresAt ~16 s ahead: only an early poll (at ~80 % of 16 s) can pick up
    // the replacement before the served artifact expires. The ~3 s left after that poll cover a
    // loaded CI machine, where the poll first starts a worker (cached mode's idle one has exited).
    const p = await startPolled({
      firstFetch: (k) => artifactJson({ recipient: k.recipient, payload: GOOD, expiresAt: isoIn(16_000) }),
      env: { CLEF_AGENT_POLL_INTERVAL: '40', CLEF_AGENT_CACHE_TTL: '60' },
    });
    t.after(() => p.close());
    const next = { app: { API_KEY: 'renewed-in-time' } };
    const from = p.mark();
    p.server.body = await p.artifact({ payload: next, revision: 'rev-renewed', expiresAt: isoIn(3600_000) });
    await p.logAfter(from, refreshed('rev-renewed'), 20_000);
    await assertServing(p, next);
    assert.ok(!p.agent.logs().some((l) => l.event === 'artifact.expired'));
    assert.equal(p.server.requests.length, 2, 'one start-up fetch and one early poll');
  });
});
