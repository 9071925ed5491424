/**
 * The AES-256-GCM step of KMS envelopes (workers/decrypt/kms-aead.ts) against known answers: the
 * NIST GCM test case 15 vector (AES-256, 96-bit iv, no AAD), vectors sealed here with node:crypto,
 * and failure vectors (every altered part, every wrong length) that must fail cleanly.
 */
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import type { TaskFailure } from '../../common/protocol.js';
import { openAesGcm } from '../../workers/decrypt/kms-aead.js';

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const NIST = {
  key: hex('feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308'),
  iv: hex('cafebabefacedbaddecaf888'),
  plain: hex('d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255'),
  cipher: hex('522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad'),
  tag: hex('b094dac5d93471bdec1a502270e3cc6c'),
};

function seal(key: Buffer, iv: Buffer, plain: Buffer): { ct: Buffer; tag: Buffer } {
  const c = createCipheriv('aes-256-gcm', key, iv);
  const ct = Buffer.concat([c.update(plain), c.final()]);
  return { ct, tag: c.getAuthTag() };
}

function failure(r: Buffer | TaskFailure): TaskFailure {
  if (!('ok' in r)) throw new Error('expected a failure, got plaintext');
  assert.equal(r.code, 'decrypt_failed');
  return r;
}

const flip = (b: Buffer, i = 0): Buffer => {
  const c = Buffer.from(b);
  c[i] = (c[i] ?? 0) ^ 0x80;
  return c;
};

describe('AES-256-GCM known answers', () => {
  test('NIST GCM test case 15 opens to its plaintext', () => {
    const r = openAesGcm(NIST.key, NIST.iv, NIST.tag, NIST.cipher);
    assert.ok(r instanceof Buffer);
    assert.deepEqual(r, NIST.plain);
  });

  test('vectors sealed with node:crypto: empty, short, and 1 MiB plaintexts; a SharedArrayBuffer ciphertext', () => {
    for (const size of [0, 1, 15, 16, 17, 1 << 20]) {
      const key = randomBytes(32);
      const iv = randomBytes(12);
      const plain = randomBytes(size);
      const { ct, tag } = seal(key, iv, plain);
      assert.deepEqual(openAesGcm(key, iv, tag, ct), plain, `size ${size}`);
      const shared = new Uint8Array(new SharedArrayBuffer(ct.length));
      shared.set(ct);
      assert.deepEqual(openAesGcm(key, iv, tag, shared), plain, `shared, size ${size}`);
    }
  });
});

describe('AES-256-GCM failure vectors', () => {
  test('an altered ciphertext, tag, iv or key fails authentication, never returns bytes', () => {
    const cases: [string, Buffer, Buffer, Buffer, Buffer][] = [
      ['ciphertext first byte', NIST.key, NIST.iv, NIST.tag, flip(NIST.cipher)],
      ['ciphertext last byte', NIST.key, NIST.iv, NIST.tag, flip(NIST.cipher, NIST.cipher.length - 1)],
      ['truncated ciphertext', NIST.key, NIST.iv, NIST.tag, NIST.cipher.subarray(0, 63)],
      ['tag', NIST.key, NIST.iv, flip(NIST.tag, 15), NIST.cipher],
      ['iv', NIST.key, flip(NIST.iv, 11), NIST.tag, NIST.cipher],
      ['key', flip(NIST.key, 31), NIST.iv, NIST.tag, NIST.cipher],
    ];
    for (const [name, key, iv, tag, ct] of cases) {
      assert.match(failure(openAesGcm(key, iv, tag, ct)).message, /authentication failed/, name);
    }
  });

  test('wrong lengths are named, without throwing: data key 0/16/31/33 bytes, iv 8/16, tag 12/0', () => {
    for (const n of [0, 16, 31, 33]) {
      assert.match(failure(openAesGcm(randomBytes(n), NIST.iv, NIST.tag, NIST.cipher)).message, new RegExp(`${n}-byte data key.*exactly 32`));
    }
    for (const n of [8, 16]) assert.match(failure(openAesGcm(NIST.key, randomBytes(n), NIST.tag, NIST.cipher)).message, new RegExp(`iv is ${n} bytes`));
    for (const n of [12, 0]) {
      assert.match(failure(openAesGcm(NIST.key, NIST.iv, NIST.tag.subarray(0, n), NIST.cipher)).message, new RegExp(`authTag is ${n} bytes`));
    }
  });

  test('failure messages carry no key, iv, tag or plaintext bytes', () => {
    const msg = failure(openAesGcm(NIST.key, NIST.iv, flip(NIST.tag), NIST.cipher)).message;
    for (const secret of [NIST.key, NIST.plain, NIST.iv, NIST.tag]) {
      assert.ok(!msg.includes(secret.toString('hex')) && !msg.includes(secret.toString('base64')));
    }
  });
});
