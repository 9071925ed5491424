/**
 * SPEC §4.1/§4.3 on a fake clock: when the real Refresher polls, and what it does with revocation,
 * rollback and expiry, with a real CachedMode as its sink and a scripted pool as the workers.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { answer, cachedRig, pollingCached, refusal, text } from './refresh-rig.js';
import { loaded, meta } from './scripted-pool.js';
import { taskFailure } from '../../common/task-failure.js';
import { suiteTempDirs } from '../kit/index.js';

/** The cache directory is decided (and created) by loadConfig: a real one, never a system path. */
const CACHE_DIR = suiteTempDirs('clef-refresher-').make();

const S = 1000;
const DAY = 86_400 * S;
const GOOD = { app: { API_KEY: 'lifecycle-value' } };
const LATER = { app: { API_KEY: 'later-value' } };

describe('§4.1 poll scheduling', () => {
  test('the first poll comes one interval after polling starts, the next one interval after it ends', async () => {
    const r = cachedRig({ CLEF_AGENT_CACHE_TTL: '300' });
    r.pool.source = () => loaded(meta('rev-a', { packedAtMs: r.time.now() }), GOOD);
    await r.refresher.refresh('startup');
    r.pool.source = () => ({ ok: true, outcome: 'unchanged' });
    r.refresher.startPolling();
    assert.deepEqual(r.time.delays(), [30 * S], 'the derived interval, CACHE_TTL/10');
    await r.time.advance(30 * S - 1);
    assert.equal(r.pool.loads.length, 1);
    await r.time.advance(1);
    assert.equal(r.pool.loads.length, 2);
    assert.deepEqual(r.time.delays(), [30 * S]);
    await r.time.advance(60 * S);
    assert.equal(r.pool.loads.length, 4);
    r.refresher.stop();
    assert.deepEqual(r.time.delays(), [], 'stop cancels the poll');
    await r.time.advance(DAY);
    assert.equal(r.pool.loads.length, 4);
  });

  test('an explicit POLL_INTERVAL is used as is', async () => {
    const r = cachedRig({ CLEF_AGENT_CACHE_TTL: '300', CLEF_AGENT_POLL_INTERVAL: '7' });
    r.pool.source = () => loaded(meta('rev-a', { packedAtMs: r.time.now() }), GOOD);
    await r.refresher.refresh('startup');
    r.refresher.startPolling();
    assert.deepEqual(r.time.delays(), [7 * S]);
    r.refresher.stop();
  });

  test('polls sooner, at 80 % of the time left to expiresAt, but never sooner than 5 s', async () => {
    const r = cachedRig({ CLEF_AGENT_CACHE_TTL: '300' });
    const now = r.time.now();
    r.pool.source = () => loaded(meta('rev-a', { packedAtMs: now, expiresAtMs: now + 20 * S }), GOOD);
    await r.refresher.refresh('startup');
    r.refresher.startPolling();
    // The poll at 16 s (80 % of 20 s), and the expiry timer at 20 s.
    assert.deepEqual(r.time.delays(), [16 * S, 20 * S]);
    r.pool.source = () => ({ ok: true, outcome: 'unchanged' });
    await r.time.advance(16 * S);
    assert.equal(r.pool.loads.length, 2);
    // 4 s left: 80 % is 3.2 s, below the 5 s floor.
    assert.deepEqual(r.time.delays(), [4 * S, 5 * S]);
    r.refresher.stop();
  });
});

describe('§4.3 step 4 expiry', () => {
  test('a served artifact reaching its expiresAt is dropped without a poll: 503 expired, workers replaced', async () => {
    const r = cachedRig();
    const now = r.time.now();
    r.pool.source = () => loaded(meta('rev-a', { packedAtMs: now, expiresAtMs: now + 20 * S }), GOOD);
    await r.refresher.refresh('startup');
    const held = await answer(() => r.mode.secrets());
    await r.time.advance(20 * S - 1);
    assert.deepEqual(r.mode.ready(), { ready: true });
    await r.time.advance(1);
    assert.deepEqual(r.mode.ready(), { ready: false, reason: 'expired' });
    assert.equal(await refusal(() => r.mode.secrets()), 'expired');
    assert.ok(
      held.bytes.every((x) => x === 0),
      'zeroed even under a reader',
    );
    assert.equal(r.pool.recycled, 1);
    assert.equal(r.events('artifact.expired')[0]?.['wasServing'], true);
    const h = r.mode.health();
    assert.deepEqual([h['keys'], h['revision'], h['expired']], [0, null, true]);
  });

  test('an expiresAt beyond the longest timer is re-armed, not fired early (Node clamps longer delays to 1 ms)', async () => {
    const r = cachedRig();
    const now = r.time.now();
    r.pool.source = () => loaded(meta('rev-a', { packedAtMs: now, expiresAtMs: now + 30 * DAY }), GOOD);
    await r.refresher.refresh('startup');
    assert.deepEqual(r.time.delays(), [2 ** 31 - 1]);
    await r.time.advance(25 * DAY);
    // No polls here, so the TTL ran out long ago; what matters is that expiry has not fired yet.
    assert.equal(r.refresher.status.expired, false, 'the first timer fired and re-armed');
    assert.equal(r.mode.health()['revision'], 'rev-a');
    assert.deepEqual(r.time.delays(), [5 * DAY]);
    await r.time.advance(5 * DAY - 1);
    assert.equal(r.refresher.status.expired, false);
    await r.time.advance(1);
    assert.equal(r.refresher.status.expired, true);
    assert.deepEqual(r.mode.ready(), { ready: false, reason: 'expired' });
  });

  test('a fetched artifact already past expiresAt drops the snapshot and stops serving', async () => {
    const r = await pollingCached(GOOD);
    r.pool.source = () => taskFailure('expired', 'the artifact expired at 2026-03-01T11:00:00.000Z');
    await r.time.advance(5 * S);
    assert.deepEqual(r.mode.ready(), { ready: false, reason: 'expired' });
    assert.equal(r.pool.recycled, 1);
    assert.equal((r.mode.health()['lastError'] as { code: string }).code, 'expired');
    // A fresh artifact ends the expiry.
    r.pool.source = () => loaded(meta('rev-b', { packedAtMs: r.time.now() }), LATER);
    await r.time.advance(5 * S);
    assert.deepEqual(r.mode.ready(), { ready: true });
    assert.deepEqual(JSON.parse(text(await answer(() => r.mode.secrets()))), LATER);
    r.refresher.stop();
  });
});

describe('§4.3 step 1 revocation and the rollback floor', () => {
  test('revokedAt drops every copy; a replay of the revoked artifact is refused; only a later one ends it', async () => {
    const r = cachedRig({ CLEF_AGENT_CACHE_PATH: CACHE_DIR });
    const packedAtMs = r.time.now() - DAY;
    const A = meta('rev-a', { packedAtMs });
    r.pool.source = () => loaded(A, GOOD);
    await r.refresher.refresh('startup');
    r.refresher.startPolling();
    const held = await answer(() => r.mode.secrets());

    r.pool.source = () => ({ ok: true, outcome: 'revoked', revokedAt: '2026-03-01T12:00:03.000Z' });
    await r.time.advance(5 * S);
    assert.deepEqual(r.mode.ready(), { ready: false, reason: 'revoked' });
    assert.equal(await refusal(() => r.mode.keys()), 'revoked');
    assert.ok(
      held.bytes.every((x) => x === 0),
      'the snapshot was zeroed',
    );
    assert.equal(r.pool.recycled, 1, 'the workers were replaced');
    assert.equal(r.mode.health()['revokedAt'], '2026-03-01T12:00:03.000Z');
    assert.equal(r.pool.loads.at(-1)?.validation.servingPackedAt, A.packedAt);

    // The pre-revocation file replayed (same packedAt): not served, and purged from the disk cache.
    const purgesBefore = r.pool.purges;
    const replays: Uint8Array[] = [];
    r.pool.source = () => {
      const replay = loaded(A, GOOD);
      if (replay.ok && replay.outcome === 'loaded') replays.push(replay.snapshot.arena);
      return replay;
    };
    await r.time.advance(5 * S);
    assert.deepEqual(r.mode.ready(), { ready: false, reason: 'revoked' });
    assert.equal((r.mode.health()['lastError'] as { code: string }).code, 'rollback');
    assert.equal(r.events('artifact.invalid').at(-1)?.['code'], 'rollback');
    assert.ok(
      replays[0]?.every((x) => x === 0),
      'the replayed plaintext was zeroed',
    );
    assert.equal(r.pool.purges, purgesBefore + 1);
    // The floor survives the revocation: the next load still carries it.
    assert.equal(r.pool.loads.at(-1)?.validation.servingPackedAt, A.packedAt);

    r.pool.source = () => loaded(meta('rev-b', { packedAtMs: packedAtMs + 1 }), LATER);
    await r.time.advance(5 * S);
    assert.deepEqual(r.mode.ready(), { ready: true });
    assert.deepEqual(JSON.parse(text(await answer(() => r.mode.secrets()))), LATER);
    assert.equal(r.events('artifact.refreshed').at(-1)?.['endedRevocation'], true);
    assert.equal(r.mode.health()['revokedAt'], null);
    r.refresher.stop();
  });

  test('with a cache path the floor and a revocation are written in order, and a restart restores them', async () => {
    const r = cachedRig({ CLEF_AGENT_CACHE_PATH: '/var/cache/clef' });
    const packedAtMs = r.time.now() - DAY;
    const A = meta('rev-a', { packedAtMs });
    r.pool.source = () => loaded(A, GOOD);
    await r.refresher.refresh('startup');
    r.pool.source = () => ({ ok: true, outcome: 'revoked', revokedAt: '2026-03-01T12:00:03.000Z' });
    await r.refresher.refresh('poll');
    await r.refresher.refresh('poll');
    await r.refresher.flushState();
    const seenAt = new Date(r.time.now()).toISOString();
    const revoked = { floor: A.packedAt, revocation: { revokedAt: '2026-03-01T12:00:03.000Z', seenAt } };
    // One write per change, not per poll that sees the same revocation.
    assert.deepEqual(r.pool.stateWrites, [{ floor: A.packedAt, revocation: undefined }, revoked]);

    // A new process on the same cache: revoked before its first load, and the replay cannot end it.
    const next = cachedRig({ CLEF_AGENT_CACHE_PATH: '/var/cache/clef' });
    next.pool.storedState = r.pool.storedState;
    assert.equal(await next.refresher.restoreState(), undefined);
    assert.deepEqual(next.mode.ready(), { ready: false, reason: 'revoked' });
    next.pool.source = () => loaded(A, GOOD);
    const replay = await next.refresher.refresh('startup');
    assert.equal(replay.ok, true, 'the workers accept it (same packedAt): the refresher refuses it');
    assert.equal(next.pool.loads[0]?.validation.servingPackedAt, A.packedAt);
    assert.match(
      String(next.events('artifact.invalid')[0]?.['msg']),
      new RegExp(`a revocation persisted at ${seenAt.replace(/\./g, '\\.')} is active and only a later artifact ends it`),
    );
    assert.deepEqual(next.mode.ready(), { ready: false, reason: 'revoked' });

    const B = meta('rev-b', { packedAtMs: packedAtMs + 1 });
    next.pool.source = () => loaded(B, LATER);
    await next.refresher.refresh('poll');
    await next.refresher.flushState();
    assert.deepEqual(next.mode.ready(), { ready: true });
    assert.deepEqual(next.pool.stateWrites.at(-1), { floor: B.packedAt, revocation: undefined });
  });

  test('a rejected artifact leaves the last good one served and is reported', async () => {
    const r = await pollingCached(GOOD);
    r.pool.source = () => taskFailure('integrity', 'ciphertextHash does not match the ciphertext');
    await r.time.advance(5 * S);
    assert.deepEqual(JSON.parse(text(await answer(() => r.mode.secrets()))), GOOD);
    assert.equal(r.events('artifact.invalid')[0]?.['code'], 'integrity');
    assert.equal(r.mode.health()['revision'], 'rev-a');
    r.refresher.stop();
  });
});
