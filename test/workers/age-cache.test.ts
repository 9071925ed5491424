/**
 * The single-entry payload-key cache of `AgeFastDecrypter`: keyed by `ciphertextHash`, replaced and
 * wiped on a new artifact, wiped by `clear()`, and transparent: whatever hash a file is presented
 * with, the result equals a from-scratch decryption of those bytes.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { AgeFastDecrypter } from '../../workers/decrypt/age-fast.js';
import { AgeIdentities } from '../../workers/decrypt/age-identity.js';
import { AgeDecryptError } from '../../workers/decrypt/age-stream.js';

const entryOf = (f: AgeFastDecrypter): AgeFastDecrypter['cachedEntry'] => f.cachedEntry;
import { ageCliEncrypt, ageKeygen, sha256Hex, type AgeKeyPair } from './helpers.js';

let pair: AgeKeyPair;
let other: AgeKeyPair;
before(() => {
  pair = ageKeygen();
  other = ageKeygen();
});

const A = '{"app":{"API_KEY":"alpha-SECRET"}}';
const B = '{"app":{"API_KEY":"bravo-SECRET","OTHER":"x"}}';

const isZero = (b: Buffer): boolean => b.every((x) => x === 0);
const utf8 = (b: Buffer): string => b.toString('utf8');

describe('AgeFastDecrypter cache', () => {
  test('a repeated artifact reuses the entry; the payload key is never a zero buffer while cached', async () => {
    const fast = new AgeFastDecrypter(pair.identity);
    const fileA = ageCliEncrypt(A, pair.recipient);
    assert.equal(utf8(await fast.decrypt('hashA', fileA)), A);
    const first = fast.cachedEntry;
    assert.ok(first !== undefined && first.hash === 'hashA' && !isZero(first.payloadKey));
    assert.equal(utf8(await fast.decrypt('hashA', fileA)), A);
    assert.equal(fast.cachedEntry, first, 'a hit must not re-derive');
  });

  test('a new artifact (different hash) re-derives and wipes the old key', async () => {
    const fast = new AgeFastDecrypter(pair.identity);
    const fileA = ageCliEncrypt(A, pair.recipient);
    const fileB = ageCliEncrypt(B, pair.recipient);
    await fast.decrypt('hashA', fileA);
    const oldKey = fast.cachedEntry?.payloadKey;
    assert.ok(oldKey !== undefined);
    assert.equal(utf8(await fast.decrypt('hashB', fileB)), B);
    const entry = fast.cachedEntry;
    assert.equal(entry?.hash, 'hashB');
    assert.ok(isZero(oldKey), 'the replaced payload key must be wiped');
    assert.ok(!entry.payloadKey.equals(oldKey));
    // And back again: A is re-derived, not served from anything left over.
    assert.equal(utf8(await fast.decrypt('hashA', fileA)), A);
    assert.equal(fast.cachedEntry?.hash, 'hashA');
  });

  test('other bytes under the old hash never decrypt with the old key (header+nonce must match too)', async () => {
    const fast = new AgeFastDecrypter(pair.identity);
    const fileA = ageCliEncrypt(A, pair.recipient);
    // Same identity, same plaintext, new file key and nonce: only the header check tells them apart.
    const fileA2 = ageCliEncrypt(A, pair.recipient);
    const fileB = ageCliEncrypt(B, pair.recipient);
    await fast.decrypt('hashA', fileA);
    const oldKey = fast.cachedEntry?.payloadKey;
    assert.equal(utf8(await fast.decrypt('hashA', fileA2)), A);
    assert.equal(utf8(await fast.decrypt('hashA', fileB)), B);
    assert.ok(oldKey !== undefined && isZero(oldKey));
    // A file for another identity under the cached hash is refused like any other.
    await assert.rejects(fast.decrypt('hashA', ageCliEncrypt(B, other.recipient)), (e: unknown) => e instanceof AgeDecryptError && e.reason === 'no_identity');
  });

  test('clear() wipes the payload key buffer and the next call re-derives', async () => {
    const fast = new AgeFastDecrypter(pair.identity);
    const fileA = ageCliEncrypt(A, pair.recipient);
    await fast.decrypt('hashA', fileA);
    const key = fast.cachedEntry?.payloadKey;
    assert.ok(key !== undefined && key.length === 32 && !isZero(key));
    fast.clear();
    assert.ok(isZero(key));
    assert.equal(fast.cachedEntry, undefined);
    assert.equal(utf8(await fast.decrypt('hashA', fileA)), A);
    // Read through a function: TypeScript would otherwise keep the getter narrowed to undefined.
    const refreshed = entryOf(fast);
    assert.ok(refreshed !== undefined && refreshed.payloadKey !== key);
  });

  test('a failed new artifact leaves no key behind, not even the previous one', async () => {
    const fast = new AgeFastDecrypter(pair.identity);
    await fast.decrypt('hashA', ageCliEncrypt(A, pair.recipient));
    const oldKey = fast.cachedEntry?.payloadKey;
    await assert.rejects(fast.decrypt('hashX', ageCliEncrypt(B, other.recipient)), AgeDecryptError);
    assert.equal(fast.cachedEntry, undefined);
    assert.ok(oldKey !== undefined && isZero(oldKey));
  });

  test('a tampered payload under a cached header is refused and the plaintext is not returned', async () => {
    const fast = new AgeFastDecrypter(pair.identity);
    const fileA = ageCliEncrypt(A, pair.recipient);
    await fast.decrypt('hashA', fileA);
    const bad = Buffer.from(fileA);
    bad[bad.length - 20]! ^= 1;
    await assert.rejects(fast.decrypt('hashA', bad), (e: unknown) => e instanceof AgeDecryptError && e.reason === 'payload');
    assert.equal(utf8(await fast.decrypt('hashA', fileA)), A);
  });

  test('concurrent calls for different artifacts in one worker all decrypt correctly', async () => {
    const fast = new AgeFastDecrypter(pair.identity);
    const files = [A, B, A, B, A].map((p) => ({ p, f: ageCliEncrypt(p, pair.recipient) }));
    const outs = await Promise.all(files.map(({ f }) => fast.decrypt(sha256Hex(f), f)));
    assert.deepEqual(
      outs.map(utf8),
      files.map(({ p }) => p),
    );
    // Interleave hits and misses many times over.
    const again = await Promise.all(Array.from({ length: 40 }, (_, i) => files[i % files.length]!).map(({ f }) => fast.decrypt(sha256Hex(f), f)));
    assert.deepEqual(
      again.map(utf8),
      Array.from({ length: 40 }, (_, i) => files[i % files.length]!.p),
    );
  });

  test('built from the worker identities (shared): the second of two identities opens the file', async () => {
    const fast = new AgeFastDecrypter(AgeIdentities.parse([other.identity, pair.identity]));
    const fileA = ageCliEncrypt(A, pair.recipient);
    assert.equal(utf8(await fast.decrypt(sha256Hex(fileA), fileA)), A);
  });
});
