/**
 * The worker-side wiring of the fast path as JIT mode runs it: `sharedAgeFile` at load, then
 * `decryptCiphertextFast` per request (workers/decrypt/age.ts), and
 * `getFastDecrypter` / `dropKeyCache` (workers/keys.ts). Same plaintext as age-encryption's own
 * `Decrypter.decrypt`, same answers and failure wording as cached mode's `decryptArtifact`;
 * revocation wipes the cached payload key.
 */
import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import { Decrypter } from 'age-encryption';
import type { PackedArtifact } from '../../common/artifact.js';
import type { TaskFailure, WorkerInit } from '../../common/protocol.js';
import { decryptArtifact, decryptCiphertextFast, sharedAgeFile } from '../../workers/decrypt/age.js';
import { AgeFastDecrypter, dearmor } from '../../workers/decrypt/age-fast.js';
import { dropKeyCache, getFastDecrypter } from '../../workers/keys.js';
import { ageCliEncrypt, ageKeygen, makeArtifact, type AgeKeyPair, inlineKey } from './helpers.js';

const PAYLOAD = '{"app":{"DATABASE_URL":"postgres://u:SECRET@db/app"}}';
let pair: AgeKeyPair;
let other: AgeKeyPair;
before(() => {
  pair = ageKeygen();
  other = ageKeygen();
});
beforeEach(() => dropKeyCache());

const artifactOf = (file: Uint8Array): PackedArtifact => makeArtifact(file) as unknown as PackedArtifact;
const isFailure = (r: Uint8Array | TaskFailure): r is TaskFailure => !(r instanceof Uint8Array);

/** JIT mode's path: the age file is decoded once at load, then decrypted per request. */
async function decryptArtifactFast(a: PackedArtifact, init: WorkerInit): Promise<Uint8Array | TaskFailure> {
  const file = await sharedAgeFile(a);
  return isFailure(file) ? file : decryptCiphertextFast(a.ciphertextHash, file, init);
}

describe('JIT age decryption (sharedAgeFile + decryptCiphertextFast)', () => {
  test('binary and armored artifacts: same plaintext as decryptArtifact and the library', async () => {
    const init = inlineKey(pair.identity);
    const library = new Decrypter();
    library.addIdentity(pair.identity);
    for (const armored of [false, true]) {
      const a = artifactOf(ageCliEncrypt(PAYLOAD, pair.recipient, armored));
      const fast = await decryptArtifactFast(a, init);
      const cached = await decryptArtifact(a, init);
      assert.ok(!isFailure(fast) && !isFailure(cached));
      assert.equal(Buffer.from(fast).toString('utf8'), PAYLOAD);
      assert.ok(Buffer.from(fast).equals(Buffer.from(cached)));
      const binary = armored ? await dearmor(Buffer.from(a.ciphertext, 'base64')) : Buffer.from(a.ciphertext, 'base64');
      assert.ok(Buffer.from(fast).equals(Buffer.from(await library.decrypt(binary))));
    }
  });

  test('a cached-mode load neither uses nor fills the JIT payload-key cache', async () => {
    const init = inlineKey(pair.identity);
    const a = artifactOf(ageCliEncrypt(PAYLOAD, pair.recipient));
    const jit = getFastDecrypter(init);
    assert.ok(jit instanceof AgeFastDecrypter);
    assert.ok(!isFailure(await decryptArtifact(a, init)));
    assert.equal(jit.cachedEntry, undefined, 'a cached-mode load leaves the JIT cache alone');
  });

  test('failures carry the same code and wording as the library path', async () => {
    const init = inlineKey(pair.identity);
    const wrongKey = artifactOf(ageCliEncrypt(PAYLOAD, other.recipient));
    const corrupt = Buffer.from(ageCliEncrypt(PAYLOAD, pair.recipient));
    corrupt[corrupt.length - 3]! ^= 1;
    const badArmor = Buffer.from(ageCliEncrypt(PAYLOAD, pair.recipient, true).toString('utf8').replace('-----END', '-----ENX'));
    for (const a of [wrongKey, artifactOf(corrupt), artifactOf(badArmor)]) {
      const fast = await decryptArtifactFast(a, init);
      const slow = await decryptArtifact(a, init);
      assert.ok(isFailure(fast) && isFailure(slow));
      assert.deepEqual(fast, slow);
      assert.equal(fast.code, 'decrypt_failed');
      assert.doesNotMatch(fast.message, /SECRET|AGE-SECRET-KEY/);
    }
  });

  test('no key configured is reported like the library path', async () => {
    const a = artifactOf(ageCliEncrypt(PAYLOAD, pair.recipient));
    assert.deepEqual(await decryptArtifactFast(a, {}), await decryptArtifact(a, {}));
  });

  test('one fast decrypter per worker; dropKeyCache (revocation) wipes its payload key', async () => {
    const init = inlineKey(pair.identity);
    const a = artifactOf(ageCliEncrypt(PAYLOAD, pair.recipient));
    assert.ok(!isFailure(await decryptArtifactFast(a, init)));
    const fast = getFastDecrypter(init);
    assert.ok(fast instanceof AgeFastDecrypter);
    assert.equal(getFastDecrypter(init), fast);
    const entry = fast.cachedEntry;
    assert.equal(entry?.hash, a.ciphertextHash);
    dropKeyCache();
    assert.ok(entry.payloadKey.every((b) => b === 0));
    assert.notEqual(getFastDecrypter(init), fast);
  });
});
