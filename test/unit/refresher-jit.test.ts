/**
 * SPEC §4.3/§5.2 JIT mode on a fake clock: the real Refresher and JitMode, a scripted pool. An age
 * artifact stops being served once MAX_STALE passes without a successful refresh; a KMS artifact
 * does not (KMS gates every request); revocation and expiry drop the encrypted artifact too.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ServeResult } from '../../common/protocol.js';
import { answer, jitRig, refusal, text } from './refresh-rig.js';
import { meta, verified } from './scripted-pool.js';
import { taskFailure } from '../../common/task-failure.js';
import { suiteTempDirs } from '../kit/index.js';

/** The cache directory is decided (and created) by loadConfig: a real one, never a system path. */
const CACHE_DIR = suiteTempDirs('clef-refresher-').make();

const S = 1000;
const MAX_STALE = 10 * S;

function ok(body: string): ServeResult {
  return { ok: true, status: 200, contentType: 'application/json', body: new Uint8Array(Buffer.from(body)) };
}

async function loadedJit(encryption: 'age' | 'kms' = 'age'): Promise<ReturnType<typeof jitRig>> {
  const r = jitRig();
  const A = meta('rev-a', { packedAtMs: r.time.now() - 60 * S, encryption });
  r.pool.source = () => verified(A, 2);
  r.pool.serve = () => ok('{"app":{"API_KEY":"jit"}}');
  await r.refresher.refresh('startup');
  r.refresher.startPolling();
  return r;
}

describe('JIT mode: MAX_STALE (fake clock)', () => {
  test('an age artifact is served until MAX_STALE passes without a successful refresh, then 503 cache_expired', async () => {
    const r = await loadedJit();
    r.pool.source = () => taskFailure('fetch_status', 'HTTP 503 from the source', 503);
    await r.time.advance(5 * S);
    assert.equal(text(await answer(() => r.mode.secrets())), '{"app":{"API_KEY":"jit"}}', 'a failed poll alone does not stop serving');
    await r.time.advance(MAX_STALE - 5 * S);
    assert.deepEqual(r.mode.ready(), { ready: true }, 'not before MAX_STALE');
    await r.time.advance(1);
    assert.deepEqual(r.mode.ready(), { ready: false, reason: 'cache_expired' });
    const served = r.pool.serves.length;
    assert.equal(await refusal(() => r.mode.secrets()), 'cache_expired');
    assert.equal(await refusal(() => r.mode.secret('app__API_KEY', { plain: true })), 'cache_expired');
    assert.equal(r.pool.serves.length, served, 'a stale artifact is not even decrypted');
    // Unlike cached mode, a request triggers no refresh: the next poll decides.
    assert.equal(r.pool.loads.length, 3);

    r.pool.source = () => ({ ok: true, outcome: 'unchanged' });
    await r.time.advance(5 * S);
    assert.deepEqual(r.mode.ready(), { ready: true }, 'served again after the next successful poll');
    assert.equal(r.mode.health()['lastError'], null);
    r.refresher.stop();
  });

  test('a KMS artifact is never stale: KMS itself gates every request', async () => {
    const r = await loadedJit('kms');
    r.pool.source = () => taskFailure('fetch_failed', 'connection refused');
    await r.time.advance(10 * MAX_STALE);
    assert.deepEqual(r.mode.ready(), { ready: true });
    assert.equal(text(await answer(() => r.mode.keys())), '{"app":{"API_KEY":"jit"}}');
    r.refresher.stop();
  });

  test('JIT keeps a disk copy up to MAX_STALE (any age for KMS)', async () => {
    const r = jitRig({ CLEF_AGENT_CACHE_PATH: CACHE_DIR });
    r.pool.source = () => verified(meta('rev-a', { packedAtMs: r.time.now() }), 1);
    await r.refresher.refresh('startup');
    const policy = r.pool.loads[0]?.diskCache;
    assert.deepEqual([policy?.maxAgeMs, policy?.kmsAnyAge], [MAX_STALE, true]);
  });

  test('revocation drops the encrypted artifact and replaces the workers', async () => {
    const r = await loadedJit();
    r.pool.source = () => ({ ok: true, outcome: 'revoked', revokedAt: '2026-03-01T12:00:04.000Z' });
    await r.time.advance(5 * S);
    assert.deepEqual(r.mode.ready(), { ready: false, reason: 'revoked' });
    assert.equal(await refusal(() => r.mode.keys()), 'revoked');
    assert.equal(r.mode.hasData(), false);
    assert.equal(r.pool.recycled, 1);
    assert.equal(r.mode.health()['keys'], 0);
    r.refresher.stop();
  });

  test('expiry: once expiresAt passes, 503 expired without a poll', async () => {
    const r = jitRig();
    const now = r.time.now();
    r.pool.source = () => verified(meta('rev-a', { packedAtMs: now, expiresAtMs: now + 8 * S }), 1);
    r.pool.serve = () => ok('{}');
    await r.refresher.refresh('startup');
    await r.time.advance(8 * S);
    assert.equal(await refusal(() => r.mode.secrets()), 'expired');
    assert.equal(r.mode.hasData(), false);
    assert.equal(r.pool.recycled, 1);
  });
});
