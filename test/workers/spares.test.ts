/**
 * Reused JIT body buffers (workers/spares.ts, src/serving/spare-bodies.ts): a written body goes
 * back to a worker, wiped, and the next plaintext of its size is decrypted into it. What must hold:
 * the answer is byte-for-byte the one a fresh buffer gives; a buffer is only taken for exactly its
 * size (so a body is still its whole ArrayBuffer); what comes back is zero; and through a real
 * piscina pool the buffers really move (detached on the sending side) in both directions.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Piscina } from 'piscina';
import { SPARE_BODY_BYTES, SPARE_BODY_MIN_BYTES } from '../../common/limits.js';
import type { EncryptedArtifact, ServeResult, ServeTask, WorkerInit } from '../../common/protocol.js';
import { SpareBodies } from '../../src/serving/spare-bodies.js';
import { runTask } from '../../workers/index.js';
import { dropKeyCache } from '../../workers/keys.js';
import { spareCount } from '../../workers/spares.js';
import { ageKeygen, ageLibEncrypt, inlineKey, POOL_TASK_FILE, sha256Hex } from './helpers.js';

/** ~20 KB of JSON: above SPARE_BODY_MIN_BYTES, so its bodies are kept. */
const PAYLOAD: Record<string, Record<string, string>> = { app: {} };
for (let i = 0; i < 400; i++) (PAYLOAD['app'] as Record<string, string>)[`KEY_${i}`] = `value-${i}-${'x'.repeat(30)}`;
const TEXT = JSON.stringify(PAYLOAD);

let init: WorkerInit;
let artifact: EncryptedArtifact;

before(async () => {
  const pair = ageKeygen();
  init = inlineKey(pair.identity);
  const file = await ageLibEncrypt(TEXT, pair.recipient);
  artifact = { ciphertextHash: sha256Hex(file), ageFile: new Uint8Array(file) };
  assert.ok(Buffer.byteLength(TEXT) > SPARE_BODY_MIN_BYTES);
});
beforeEach(() => dropKeyCache());

function body(r: ServeResult): Uint8Array {
  assert.ok(r.ok && r.status === 200, JSON.stringify(r));
  return r.body;
}

async function secrets(spare?: ArrayBuffer[]): Promise<Uint8Array> {
  const task: ServeTask = { type: 'serve', artifact, request: { route: 'secrets' }, ...(spare ? { spare } : {}) };
  return body((await runTask(task, init)) as ServeResult);
}

describe('worker side (in-process)', () => {
  test('a spare of exactly the plaintext size becomes the /v1/secrets body; the answer is unchanged', async () => {
    await secrets(); // the first answer proves the plaintext canonical (workers/canonical.ts)
    const spare = new ArrayBuffer(Buffer.byteLength(TEXT));
    const b = await secrets([spare]);
    assert.equal(b.buffer, spare, 'decrypted into the spare');
    assert.deepEqual([b.byteOffset, b.byteLength], [0, spare.byteLength], 'the whole buffer, as a body must be');
    assert.equal(Buffer.from(b).toString('utf8'), TEXT);
  });

  test('a spare of another size is never used (a body would not be its whole buffer)', async () => {
    await secrets();
    const wrong = new ArrayBuffer(Buffer.byteLength(TEXT) + 1);
    const b = await secrets([wrong]);
    assert.notEqual(b.buffer, wrong);
    assert.equal(Buffer.from(b).toString('utf8'), TEXT);
  });

  test('a plaintext the worker wiped itself (another route) is kept, all zero, and used for the next one', async () => {
    await secrets();
    const before = spareCount();
    const r = (await runTask({ type: 'serve', artifact, request: { route: 'secret', name: 'app__KEY_7', plain: true } }, init)) as ServeResult;
    assert.equal(Buffer.from(body(r)).toString('utf8'), `value-7-${'x'.repeat(30)}`);
    assert.equal(spareCount(), before + 1, 'the wiped plaintext went on the list');
    const b = await secrets();
    assert.equal(spareCount(), before, 'and was taken for the next plaintext of its size');
    assert.equal(Buffer.from(b).toString('utf8'), TEXT);
  });
});

describe('main side: SpareBodies', () => {
  test('keep wipes the whole buffer at once; small, detached, duplicate and over-the-cap buffers are not kept', () => {
    const spares = new SpareBodies(3 * SPARE_BODY_MIN_BYTES);
    const a = new ArrayBuffer(SPARE_BODY_MIN_BYTES);
    new Uint8Array(a).fill(7);
    spares.keep(a);
    assert.ok(
      new Uint8Array(a).every((x) => x === 0),
      'wiped',
    );
    spares.keep(a);
    assert.equal(spares.size, 1, 'a second release keeps it once');
    const small = new ArrayBuffer(SPARE_BODY_MIN_BYTES - 1);
    new Uint8Array(small).fill(7);
    spares.keep(small);
    assert.ok(
      new Uint8Array(small).every((x) => x === 0),
      'a buffer not kept is wiped all the same',
    );
    const detached = new ArrayBuffer(SPARE_BODY_MIN_BYTES);
    structuredClone(detached, { transfer: [detached] });
    spares.keep(detached);
    spares.keep(new ArrayBuffer(SPARE_BODY_MIN_BYTES));
    spares.keep(new ArrayBuffer(2 * SPARE_BODY_MIN_BYTES)); // would pass the cap
    assert.equal(spares.size, 2);
  });

  test('take hands out at most n, each once; clear forgets them', () => {
    const spares = new SpareBodies(SPARE_BODY_BYTES);
    const kept = [1, 2, 3].map(() => new ArrayBuffer(SPARE_BODY_MIN_BYTES));
    for (const b of kept) spares.keep(b);
    const first = spares.take(2) ?? [];
    const second = spares.take(5) ?? [];
    assert.deepEqual([first.length, second.length], [2, 1]);
    assert.equal(new Set([...first, ...second]).size, 3);
    assert.equal(spares.take(1), undefined);
    spares.keep(new ArrayBuffer(SPARE_BODY_MIN_BYTES));
    spares.clear();
    assert.equal(spares.take(1), undefined);
  });
});

describe('through a real piscina pool', () => {
  let pool: Piscina;
  before(() => {
    pool = new Piscina({ filename: POOL_TASK_FILE, workerData: init, minThreads: 1, maxThreads: 1 });
  });
  after(() => pool.destroy());

  test('bodies go back and forth as the pool moves them, every answer exact', async () => {
    const spares = new SpareBodies();
    let reused = 0;
    for (let i = 0; i < 12; i++) {
      const spare = spares.take(1);
      const r = (await pool.run(
        { type: 'serve', artifact, request: { route: 'secrets' }, ...(spare ? { spare } : {}) },
        spare ? { transferList: spare } : undefined,
      )) as ServeResult;
      if (spare) {
        assert.equal(spare[0]?.byteLength, 0, 'moved to the worker: detached here');
        reused++;
      }
      const b = body(r);
      assert.equal(Buffer.from(b).toString('utf8'), TEXT, `answer ${i}`);
      assert.deepEqual([b.byteOffset, b.byteLength], [0, b.buffer.byteLength]);
      spares.keep(b.buffer as ArrayBuffer);
    }
    // Every answer after the first carried the previous body back (the first had none to carry).
    assert.equal(reused, 11);
  });
});
