/**
 * The two ServingModes directly (SPEC §5, §5.2): what each secrets route answers, the refusals,
 * and that every body a mode hands out is zeroed once released. Cached mode serves a real
 * snapshot built by the workers' serializer; JIT mode asks a scripted pool for each body.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { FailureCode } from '../../common/failures.js';
import type { ServeResult } from '../../common/protocol.js';
import { ApiError } from '../../src/errors.js';
import { answer, cachedRig, jitRig, refusal, text } from './refresh-rig.js';
import { loaded, meta, verified } from './scripted-pool.js';
import { taskFailure } from '../../common/task-failure.js';

const PAYLOAD = { app: { API_KEY: 'k-1', DB: 'postgres://db' }, a__b: { c: 'one' }, a: { b__c: 'two' } };

async function cached(): Promise<ReturnType<typeof cachedRig>> {
  const r = cachedRig();
  r.pool.source = () => loaded(meta('rev-a', { packedAtMs: r.time.now() }), PAYLOAD);
  await r.refresher.refresh('startup');
  return r;
}

describe('CachedMode', () => {
  test('before the first load: not ready, secrets routes 503 not_loaded, health says so', async () => {
    const r = cachedRig();
    assert.deepEqual(r.mode.ready(), { ready: false, reason: 'not_loaded' });
    assert.equal(await refusal(() => r.mode.secrets()), 'not_loaded');
    assert.equal(await refusal(() => r.mode.secret('app__API_KEY', { plain: false })), 'not_loaded');
    const h = r.mode.health();
    assert.deepEqual([h['mode'], h['state'], h['keys'], h['revision'], h['ready']], ['cached', 'not_loaded', 0, null, false]);
    assert.equal(r.pool.loads.length, 0, 'a request before the first load triggers no refresh');
  });

  test('secrets, keys and one secret (JSON, text/plain, ns/KEY form) from the snapshot', async () => {
    const r = await cached();
    const all = await answer(() => r.mode.secrets());
    assert.equal(all.contentType, 'application/json');
    assert.deepEqual(JSON.parse(text(all)), PAYLOAD);
    assert.deepEqual(JSON.parse(text(await answer(() => r.mode.keys()))), ['a__b__c', 'a__b__c', 'app__API_KEY', 'app__DB'], 'sorted');
    const one = await answer(() => r.mode.secret('app__API_KEY', { plain: false }));
    assert.deepEqual([one.contentType, text(one)], ['application/json', '{"key":"app__API_KEY","value":"k-1"}']);
    const plain = await answer(() => r.mode.secret('app/DB', { plain: true }));
    assert.deepEqual([plain.contentType, text(plain)], ['text/plain', 'postgres://db']);
    assert.equal(text(await answer(() => r.mode.secret('a/b__c', { plain: true }))), 'two');
    const h = r.mode.health();
    assert.deepEqual([h['mode'], h['state'], h['keys'], h['revision'], h['ready']], ['cached', 'ok', 4, 'rev-a', true]);
  });

  test('an unknown key is 404 not_found; a qualified name two entries share is 409 with the candidates', async () => {
    const r = await cached();
    assert.equal(await refusal(() => r.mode.secret('app__NOPE', { plain: false })), 'not_found');
    try {
      r.mode.secret('a__b__c', { plain: false });
      assert.fail('expected ambiguous_key');
    } catch (err) {
      assert.ok(err instanceof ApiError && err.reason === 'ambiguous_key');
      assert.deepEqual(err.extra, { candidates: ['a/b__c', 'a__b/c'] });
    }
  });

  test('a swapped-out snapshot stays whole while a response is written from it, and is zeroed on release', async () => {
    const r = await cached();
    const old = await answer(() => r.mode.secrets());
    r.pool.source = () => loaded(meta('rev-b', { packedAtMs: r.time.now() + 1 }), { app: { API_KEY: 'k-2' } });
    await r.refresher.refresh('poll');
    assert.deepEqual(JSON.parse(text(old)), PAYLOAD, 'the writer still reads revision A whole');
    assert.equal(text(await answer(() => r.mode.secret('app__API_KEY', { plain: true }))), 'k-2', 'new requests see B');
    old.release?.();
    assert.ok(old.bytes.every((x) => x === 0));
    old.release?.();
  });

  test('close zeroes the snapshot', async () => {
    const r = await cached();
    const held = await answer(() => r.mode.keys());
    r.mode.close();
    assert.ok(held.bytes.every((x) => x === 0));
    assert.equal(r.mode.hasData(), false);
  });
});

function body(s: string, contentType: 'application/json' | 'text/plain' = 'application/json'): ServeResult {
  return { ok: true, status: 200, contentType, body: new Uint8Array(Buffer.from(s)) };
}

async function jit(): Promise<ReturnType<typeof jitRig>> {
  const r = jitRig();
  r.pool.source = () => verified(meta('rev-a', { packedAtMs: r.time.now() }), 3);
  await r.refresher.refresh('startup');
  return r;
}

describe('JitMode', () => {
  test('each route runs one serve task on the current artifact, with the decrypt deadline', async () => {
    const r = await jit();
    r.pool.serve = (t) => (t.request.route === 'secret' && t.request.plain ? body('v', 'text/plain') : body(`{"route":"${t.request.route}"}`));
    assert.equal(text(await r.mode.secrets()), '{"route":"secrets"}');
    assert.equal(text(await r.mode.keys()), '{"route":"keys"}');
    const plain = await r.mode.secret('app/API_KEY', { plain: true });
    assert.deepEqual([plain.contentType, text(plain)], ['text/plain', 'v']);
    assert.deepEqual(
      r.pool.serves.map((t) => t.request),
      [{ route: 'secrets' }, { route: 'keys' }, { route: 'secret', name: 'app/API_KEY', plain: true }],
    );
    assert.ok(r.pool.serves.every((t) => t.artifact.ciphertextHash === 'sha256-rev-a'));
    assert.deepEqual(
      r.pool.deadlines.filter(([type]) => type === 'serve').map(([, ms]) => ms),
      [5000, 5000, 5000],
    );
    const h = r.mode.health();
    assert.deepEqual([h['mode'], h['keys'], h['revision']], ['jit', 3, 'rev-a']);
  });

  test('release zeroes the body the worker transferred (no copy is kept)', async () => {
    const r = await jit();
    let sent: Uint8Array | undefined;
    r.pool.serve = () => {
      const res = body('{"app":{"API_KEY":"secret-bytes"}}');
      if (res.ok && res.status === 200) sent = res.body;
      return res;
    };
    const b = await r.mode.secrets();
    assert.equal(text(b), '{"app":{"API_KEY":"secret-bytes"}}');
    assert.equal(b.bytes.buffer, sent?.buffer, 'a view on the transferred buffer');
    b.release?.();
    assert.ok(sent?.every((x) => x === 0));
  });

  test('a request is answered from the artifact current when it arrived', async () => {
    const r = await jit();
    let finish: ((res: ServeResult) => void) | undefined;
    r.pool.serve = () => new Promise((resolve) => (finish = resolve));
    const pending = r.mode.secrets();
    r.pool.source = () => verified(meta('rev-b', { packedAtMs: r.time.now() + 1 }), 1);
    await r.refresher.refresh('poll');
    // Requests reach the pool when the turn they arrived in ends (jit-batch.ts): after this refresh.
    await new Promise((resolve) => setImmediate(resolve));
    finish?.(body('{"from":"a"}'));
    assert.equal(text(await pending), '{"from":"a"}');
    assert.equal(r.pool.serves[0]?.artifact.ciphertextHash, 'sha256-rev-a');
  });

  test('a drop (revocation, expiry) hands the requests that arrived before it to the pool at once, before the workers are replaced', async () => {
    const r = await jit();
    r.pool.serve = () => body('{"from":"a"}');
    const pending = r.mode.secrets();
    assert.equal(r.pool.batches.length, 0, 'waiting for the turn to end');
    r.mode.drop();
    assert.equal(r.pool.batches.length, 1, 'submitted before drop returned (the refresher recycles the pool right after it)');
    assert.equal(text(await pending), '{"from":"a"}');
  });

  test('404 and 409 answers of the worker become not_found and ambiguous_key', async () => {
    const r = await jit();
    r.pool.serve = () => ({ ok: true, status: 404 });
    assert.equal(await refusal(() => r.mode.secret('nope', { plain: false })), 'not_found');
    r.pool.serve = () => ({ ok: true, status: 409, candidates: ['a__b/c', 'a/b__c'] });
    await assert.rejects(
      r.mode.secret('a__b__c', { plain: false }),
      (err) => err instanceof ApiError && err.reason === 'ambiguous_key' && err.extra?.['candidates'] !== undefined,
    );
  });

  test('pool and decryption failures map to their API reasons; overloaded says when to retry', async () => {
    const r = await jit();
    const cases: Array<[FailureCode, string]> = [
      ['overloaded', 'overloaded'],
      ['task_timeout', 'timeout'],
      ['kms_denied', 'kms_denied'],
      ['kms_unavailable', 'kms_unavailable'],
      ['decrypt_failed', 'decrypt_failed'],
      ['invalid_payload', 'decrypt_failed'],
      ['internal', 'decrypt_failed'],
    ];
    for (const [code, reason] of cases) {
      r.pool.serve = () => taskFailure(code, `worker said ${code}`);
      await assert.rejects(r.mode.keys(), (err) => err instanceof ApiError && err.reason === reason, code);
    }
    r.pool.serve = () => taskFailure('overloaded', 'the worker queue is full');
    await assert.rejects(r.mode.secrets(), (err) => err instanceof ApiError && err.headers?.['Retry-After'] === '1');
    assert.deepEqual(r.mode.ready(), { ready: true }, 'a failed request does not stop serving');
  });
});
