/**
 * Known-answer and failure-vector tests for the fast age path (workers/decrypt/age-stream.ts,
 * age-fast.ts). Every file comes from the reference `age` CLI at test time; every vector is checked
 * against the plaintext and differentially against age-encryption's `Decrypter.decrypt`.
 */
import assert from 'node:assert/strict';
import { createCipheriv, hkdfSync } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { armor, Decrypter } from 'age-encryption';
import { AgeFastDecrypter } from '../../workers/decrypt/age-fast.js';
import { AgeDecryptError, type AgeFailure } from '../../workers/decrypt/age-stream.js';
import { CHUNK_CIPHERTEXT_SIZE, CHUNK_SIZE, splitHeader } from '../../workers/decrypt/age-stream.js';
import { ageCliEncrypt, ageKeygen, sha256Hex, type AgeKeyPair } from './helpers.js';

let pair: AgeKeyPair;
let other: AgeKeyPair;
before(() => {
  pair = ageKeygen();
  other = ageKeygen();
});

/** `n` bytes of printable ASCII (the CLI helper takes text), varied so chunks differ. */
function text(n: number): string {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `${i.toString(36)}-`;
  return s.slice(0, n);
}

function tenKeys(): string {
  const app: Record<string, string> = {};
  for (let i = 0; i < 10; i++) app[`KEY_${i}`] = `value-${i}-${'x'.repeat(40)}`;
  return JSON.stringify({ app });
}

/** age-encryption's answer for a file (armor decoded first, as the worker does). */
async function libDecrypt(file: Uint8Array, identity = pair.identity): Promise<Buffer> {
  const d = new Decrypter();
  d.addIdentity(identity);
  const head = Buffer.from(file.subarray(0, 40)).toString('latin1');
  const bin = head.startsWith('-----BEGIN') ? armor.decode(Buffer.from(file).toString('utf8')) : file;
  return Buffer.from(await d.decrypt(bin));
}

async function fastDecrypt(file: Uint8Array, identity = pair.identity): Promise<Buffer> {
  return new AgeFastDecrypter(identity).decrypt(sha256Hex(file), file);
}

/** Both paths must reject; the fast path with the expected reason and a message free of secrets. */
async function rejectsBoth(file: Uint8Array, reason: AgeFailure, identity = pair.identity): Promise<void> {
  await assert.rejects(libDecrypt(file, identity), 'age-encryption accepted the vector');
  await assert.rejects(fastDecrypt(file, identity), (err: unknown) => {
    assert.ok(err instanceof AgeDecryptError, String(err));
    assert.equal(err.reason, reason, err.message);
    assert.doesNotMatch(err.message, /AGE-SECRET-KEY|value-|KEY_/);
    return true;
  });
}

/** Offset of the first STREAM chunk (after header and 16-byte nonce) in a binary file. */
const bodyStart = (file: Uint8Array): number => splitHeader(file).header.length + 16;

describe('known answers from the reference age CLI', () => {
  const cases: Array<[string, () => string]> = [
    ['empty payload', () => ''],
    ['one byte', () => 'x'],
    ['exactly 64 KiB (one full final chunk)', () => text(CHUNK_SIZE)],
    ['64 KiB + 1 (full chunk, then a 1-byte final chunk)', () => text(CHUNK_SIZE + 1)],
    ['multi-chunk (~200 KiB)', () => text(200 * 1024 + 123)],
    ['a 10-key JSON payload', tenKeys],
  ];
  for (const [name, make] of cases) {
    for (const armored of [false, true]) {
      test(`${name}${armored ? ', ASCII-armored' : ''}`, async () => {
        const plain = Buffer.from(make(), 'utf8');
        const file = ageCliEncrypt(plain.toString('utf8'), pair.recipient, armored);
        const fast = await fastDecrypt(file);
        assert.ok(fast.equals(plain), 'fast path differs from the plaintext');
        assert.ok(fast.equals(await libDecrypt(file)), 'fast path differs from age-encryption');
      });
    }
  }

  test('chunk layout matches the spec: 64 KiB is one full chunk carrying the last flag', () => {
    const at64 = ageCliEncrypt(text(CHUNK_SIZE), pair.recipient);
    assert.equal(at64.length - bodyStart(at64), CHUNK_CIPHERTEXT_SIZE);
    const at64p1 = ageCliEncrypt(text(CHUNK_SIZE + 1), pair.recipient);
    assert.equal(at64p1.length - bodyStart(at64p1), CHUNK_CIPHERTEXT_SIZE + 17);
    const empty = ageCliEncrypt('', pair.recipient);
    assert.equal(empty.length - bodyStart(empty), 16);
  });

  test('the result is a fresh, unpooled Buffer the caller can wipe or transfer whole', async () => {
    const out = await fastDecrypt(ageCliEncrypt(tenKeys(), pair.recipient));
    assert.equal(out.byteOffset, 0);
    assert.equal(out.buffer.byteLength, out.length);
  });
});

describe('failure vectors: rejected by the fast path and by age-encryption', () => {
  test('wrong header MAC (one MAC character changed)', async () => {
    const file = Buffer.from(ageCliEncrypt(tenKeys(), pair.recipient));
    const { header } = splitHeader(file);
    const macAt = Buffer.from(header).lastIndexOf('--- ') + 4;
    file[macAt] = file[macAt] === 0x41 ? 0x42 : 0x41; // 'A' <-> 'B': still valid base64
    await rejectsBoth(file, 'header');
  });

  test('a stanza added to the header: the key still unwraps, the MAC no longer matches', async () => {
    const file = ageCliEncrypt(tenKeys(), pair.recipient);
    const at = Buffer.from(splitHeader(file).header).lastIndexOf('--- '); // start of the MAC line
    await rejectsBoth(Buffer.concat([file.subarray(0, at), Buffer.from('-> grease-x y\n\n'), file.subarray(at)]), 'header');
  });

  test('a wrapped-key byte changed: the stanza no longer unwraps for this identity', async () => {
    const file = Buffer.from(ageCliEncrypt(tenKeys(), pair.recipient));
    const at = file.indexOf('\n', file.indexOf('-> X25519')) + 1; // first stanza body line
    file[at] = file[at] === 0x41 ? 0x42 : 0x41;
    await rejectsBoth(file, 'no_identity');
  });

  test('wrong identity', async () => {
    await rejectsBoth(ageCliEncrypt(tenKeys(), pair.recipient), 'no_identity', other.identity);
  });

  test('truncated final chunk (1, 10 and 16 bytes cut)', async () => {
    const file = ageCliEncrypt(text(200 * 1024 + 123), pair.recipient);
    for (const cut of [1, 10, 16]) await rejectsBoth(file.subarray(0, file.length - cut), 'payload');
    const small = ageCliEncrypt(tenKeys(), pair.recipient);
    await rejectsBoth(small.subarray(0, small.length - 1), 'payload');
  });

  test('dropped final chunk: the file ends on a full chunk without the last flag', async () => {
    const file = ageCliEncrypt(text(3 * CHUNK_SIZE + 500), pair.recipient);
    const cut = bodyStart(file) + 3 * CHUNK_CIPHERTEXT_SIZE;
    assert.equal(file.length - cut, 500 + 16);
    await rejectsBoth(file.subarray(0, cut), 'payload');
    await rejectsBoth(file.subarray(0, cut - CHUNK_CIPHERTEXT_SIZE), 'payload');
  });

  test('a flipped bit in a middle chunk', async () => {
    const file = Buffer.from(ageCliEncrypt(text(3 * CHUNK_SIZE + 500), pair.recipient));
    file[bodyStart(file) + CHUNK_CIPHERTEXT_SIZE + 1000]! ^= 0x04;
    await rejectsBoth(file, 'payload');
  });

  test('trailing data after the final chunk (1 byte, 17 bytes, a whole chunk)', async () => {
    for (const plain of [tenKeys(), text(CHUNK_SIZE)]) {
      const file = ageCliEncrypt(plain, pair.recipient);
      for (const extra of [1, 17, CHUNK_CIPHERTEXT_SIZE]) {
        await rejectsBoth(Buffer.concat([file, Buffer.alloc(extra, 0x5a)]), 'payload');
      }
    }
  });

  test('an empty final chunk after a full chunk (re-encrypted with node:crypto)', async () => {
    const plain = Buffer.from(text(CHUNK_SIZE), 'utf8');
    const file = ageCliEncrypt(plain.toString('utf8'), pair.recipient);
    const start = bodyStart(file);
    const d = new Decrypter();
    d.addIdentity(pair.identity);
    const fileKey = await d.decryptHeader(splitHeader(file).header);
    const key = Buffer.from(hkdfSync('sha256', fileKey, file.subarray(start - 16, start), 'payload', 32));
    const seal = (counter: number, last: boolean, pt: Uint8Array): Buffer => {
      const nonce = Buffer.alloc(12);
      nonce.writeUIntBE(counter, 5, 6);
      nonce[11] = last ? 1 : 0;
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      return Buffer.concat([c.update(pt), c.final(), c.getAuthTag()]);
    };
    const prefix = file.subarray(0, start);
    // Positive control: this test's own sealing reproduces what the CLI wrote.
    assert.ok(Buffer.concat([prefix, seal(0, true, plain)]).equals(file));
    await rejectsBoth(Buffer.concat([prefix, seal(0, false, plain), seal(1, true, Buffer.alloc(0))]), 'empty_final_chunk');
  });

  test('not an age file, a header without a MAC line, a missing nonce, a missing final chunk', async () => {
    const file = ageCliEncrypt(tenKeys(), pair.recipient);
    const start = bodyStart(file);
    await rejectsBoth(Buffer.from('hello world\n'), 'malformed');
    await rejectsBoth(file.subarray(0, splitHeader(file).header.length - 5), 'malformed');
    await rejectsBoth(file.subarray(0, start - 3), 'malformed');
    await rejectsBoth(file.subarray(0, start), 'payload');
  });

  test('malformed ASCII armor', async () => {
    const file = ageCliEncrypt(tenKeys(), pair.recipient, true).toString('utf8');
    await assert.rejects(fastDecrypt(Buffer.from(file.replace('-----END AGE', '-----END XGE'))), (e: unknown) => {
      return e instanceof AgeDecryptError && e.reason === 'armor';
    });
  });
});
