/** The workers through a real piscina pool, as the main thread uses them. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { suiteTempDirs } from '../kit/index.js';
import { Piscina } from 'piscina';
import type { CheckKeyResult, LoadResult, LoadTask } from '../../common/protocol.js';
import { ageCliEncrypt, ageKeygen, makeArtifact, NOW_MS, signingKey, spanText, inlineKey, POOL_TASK_FILE } from './helpers.js';

const dir = suiteTempDirs('clef-workers-pool-').make();
let pool: Piscina;
let recipient: string;

before(() => {
  const pair = ageKeygen();
  recipient = pair.recipient;
  const workerData = inlineKey(pair.identity);
  pool = new Piscina({ filename: POOL_TASK_FILE, workerData, minThreads: 1, maxThreads: 2 });
});

after(() => pool.destroy());

function loadTask(path: string, verifyKey?: string): LoadTask {
  return {
    type: 'load',
    mode: 'cached',
    source: { kind: 'file', path },
    fetch: { timeoutMs: 2000, maxBytes: 1 << 20, retries: 0, allowHttp: false },
    validation: { nowMs: NOW_MS, verifyKey },
  };
}

describe('piscina pool (dist/workers/task.cjs, as src/pool.ts names it)', () => {
  test('checkKey proves the workerData key parses', async () => {
    const r = (await pool.run({ type: 'checkKey' })) as CheckKeyResult;
    assert.deepEqual(r, { ok: true });
  });

  test('a signed artifact loads and the arena arrives whole, as its own ArrayBuffer', async () => {
    const key = signingKey('ed25519');
    const path = join(dir, 'signed.json');
    writeFileSync(path, JSON.stringify(makeArtifact(ageCliEncrypt('{"app":{"A":"1","B":"two"}}', recipient), {}, key)));
    const r = (await pool.run(loadTask(path, key.verifyKey))) as LoadResult;
    assert.ok(r.ok && r.outcome === 'loaded', JSON.stringify(r));
    assert.ok(r.snapshot.arena instanceof Uint8Array);
    assert.equal(r.snapshot.arena.byteOffset, 0);
    assert.equal(r.snapshot.arena.buffer.byteLength, r.snapshot.arena.byteLength);
    assert.equal(spanText(r.snapshot.arena, r.snapshot.secrets), '{"app":{"A":"1","B":"two"}}');
    const b = r.snapshot.entries.find((e) => e.qualified === 'app__B');
    assert.ok(b);
    assert.equal(spanText(r.snapshot.arena, b.value), 'two');
    assert.equal(r.meta.signed, true);
    // The main thread can wipe it in one call.
    r.snapshot.arena.fill(0);
    assert.ok(r.snapshot.arena.every((x) => x === 0));
  });

  test('failures come back as tagged values, never as rejections', async () => {
    const path = join(dir, 'unsigned.json');
    writeFileSync(path, JSON.stringify(makeArtifact(ageCliEncrypt('{}', recipient))));
    const r = (await pool.run(loadTask(path, signingKey('p256').verifyKey))) as LoadResult;
    assert.deepEqual({ ok: r.ok, code: !r.ok && r.code }, { ok: false, code: 'signature_missing' });
    const odd = (await pool.run({ type: 'nonsense' })) as LoadResult;
    assert.ok(!odd.ok && odd.code === 'internal');
  });
});
