/**
 * Differential fuzzing of the fast age path against age-encryption (fast-check; 100 runs per
 * property, 1000 with SLOW=1):
 *  - any payload length, esp. around the 64 KiB chunk boundaries, round-trips identically;
 *  - any single-byte change, truncation or extension of a valid file: the fast path rejects
 *    exactly when age-encryption rejects, and when both accept the outputs are equal.
 * Mutated files are presented both to a warm decrypter under the ORIGINAL hash (exercising the
 * cache guard) and to a fresh one under their own hash.
 */
import assert from 'node:assert/strict';
import { createCipheriv, createHash } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { armor, Decrypter, Encrypter } from 'age-encryption';
import fc from 'fast-check';
import { AgeFastDecrypter } from '../../workers/decrypt/age-fast.js';
import { AgeDecryptError } from '../../workers/decrypt/age-stream.js';
import { CHUNK_CIPHERTEXT_SIZE, CHUNK_SIZE, splitHeader } from '../../workers/decrypt/age-stream.js';
import { ageCliEncrypt, ageKeygen, sha256Hex, type AgeKeyPair } from './helpers.js';

const RUNS = process.env['SLOW'] === '1' ? 1000 : 100;

let pair: AgeKeyPair;
before(() => {
  pair = ageKeygen();
});

/** Deterministic bytes from a seed (a ChaCha20 keystream), so failures replay from the fc seed. */
function bytes(seed: number, n: number): Buffer {
  const key = createHash('sha256').update(`seed-${seed}`).digest();
  const c = createCipheriv('chacha20', key, Buffer.alloc(16));
  return Buffer.concat([c.update(Buffer.alloc(n)), c.final()]);
}

async function libEncrypt(plain: Uint8Array): Promise<Buffer> {
  const e = new Encrypter();
  e.addRecipient(pair.recipient);
  return Buffer.from(await e.encrypt(plain));
}

type Outcome = { ok: true; out: Buffer } | { ok: false };

async function lib(file: Uint8Array): Promise<Outcome> {
  try {
    const d = new Decrypter();
    d.addIdentity(pair.identity);
    const head = Buffer.from(file.subarray(0, 40)).toString('latin1').trimStart();
    const bin = head.startsWith('-----BEGIN') ? armor.decode(Buffer.from(file).toString('utf8')) : file;
    return { ok: true, out: Buffer.from(await d.decrypt(bin)) };
  } catch {
    return { ok: false };
  }
}

async function fast(f: AgeFastDecrypter, hash: string, file: Uint8Array): Promise<Outcome> {
  try {
    return { ok: true, out: await f.decrypt(hash, file) };
  } catch (err) {
    // Only the typed error may escape, whatever the input.
    assert.ok(err instanceof AgeDecryptError, `untyped error: ${String(err)}`);
    return { ok: false };
  }
}

/** Lengths near every boundary that matters, plus anything up to ~3 chunks. */
const lengthArb = fc.oneof(
  fc.constantFrom(0, 1, 15, 16, 17, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 2 * CHUNK_SIZE - 1, 2 * CHUNK_SIZE, 2 * CHUNK_SIZE + 1),
  fc.integer({ min: -20, max: 20 }).chain((d) => fc.constantFrom(CHUNK_SIZE + d, 2 * CHUNK_SIZE + d).map((n) => Math.max(0, n))),
  fc.integer({ min: 0, max: 2000 }),
  fc.integer({ min: 0, max: 3 * CHUNK_SIZE + 100 }),
);

describe('differential fuzz against age-encryption', () => {
  test('round trip: any payload encrypted by age-encryption decrypts identically', async () => {
    const f = new AgeFastDecrypter(pair.identity);
    await fc.assert(
      fc.asyncProperty(lengthArb, fc.integer(), fc.boolean(), async (n, seed, armored) => {
        const plain = bytes(seed, n);
        const bin = await libEncrypt(plain);
        const file = armored ? Buffer.from(armor.encode(bin), 'utf8') : bin;
        const got = await fast(f, sha256Hex(file), file);
        assert.ok(got.ok, `fast path rejected a valid ${n}-byte payload`);
        assert.ok(got.out.equals(plain));
        const ref = await lib(file);
        assert.ok(ref.ok && ref.out.equals(got.out));
      }),
      { numRuns: RUNS },
    );
  });

  /** A few valid files: tiny, one exact chunk, chunk + 1, multi-chunk, from the lib and the CLI. */
  let bases: Buffer[] = [];
  before(async () => {
    bases = [
      await libEncrypt(bytes(1, 0)),
      await libEncrypt(bytes(2, 300)),
      await libEncrypt(bytes(3, CHUNK_SIZE)),
      await libEncrypt(bytes(4, CHUNK_SIZE + 1)),
      ageCliEncrypt('x'.repeat(2 * CHUNK_SIZE + 77), pair.recipient),
      ageCliEncrypt('{"app":{"K":"v"}}', pair.recipient, true),
    ];
  });

  /** Positions biased to the header, the nonce, chunk boundaries and the tail. */
  const positionArb = (file: Buffer): fc.Arbitrary<number> => {
    const isArmor = file.subarray(0, 5).toString('latin1') === '-----';
    const start = isArmor ? 0 : splitHeader(file).header.length + 16;
    const marks = [0, start, ...[1, 2].map((k) => start + k * CHUNK_CIPHERTEXT_SIZE), file.length];
    return fc.oneof(
      fc.nat({ max: start + 20 }),
      fc.constantFrom(...marks).chain((m) => fc.integer({ min: -20, max: 20 }).map((d) => m + d)),
      fc.nat({ max: file.length }),
    );
  };

  type Mutation = { kind: 'flip'; at: number; xor: number } | { kind: 'cut'; at: number } | { kind: 'append'; extra: Buffer };

  function mutationArb(file: Buffer): fc.Arbitrary<Mutation> {
    const pos = positionArb(file).map((p) => Math.min(Math.max(p, 0), file.length));
    return fc.oneof(
      fc.record({ kind: fc.constant('flip' as const), at: pos.map((p) => Math.min(p, file.length - 1)), xor: fc.integer({ min: 1, max: 255 }) }),
      fc.record({ kind: fc.constant('cut' as const), at: pos }),
      fc.record({ kind: fc.constant('append' as const), extra: fc.uint8Array({ minLength: 1, maxLength: 40 }).map((u) => Buffer.from(u)) }),
    );
  }

  function apply(file: Buffer, m: Mutation): Buffer {
    if (m.kind === 'cut') return file.subarray(0, m.at);
    if (m.kind === 'append') return Buffer.concat([file, m.extra]);
    const copy = Buffer.from(file);
    copy[m.at]! ^= m.xor;
    return copy;
  }

  test('mutations: the fast path rejects exactly when age-encryption does; equal output otherwise', async () => {
    const baseArb = fc.nat({ max: bases.length - 1 }).chain((i) => mutationArb(bases[i]!).map((m) => ({ i, m })));
    // One warm decrypter per base file, so a payload mutation hits the cached key.
    const warm = await Promise.all(
      bases.map(async (b) => {
        const f = new AgeFastDecrypter(pair.identity);
        assert.ok((await fast(f, sha256Hex(b), b)).ok);
        return f;
      }),
    );
    await fc.assert(
      fc.asyncProperty(baseArb, async ({ i, m }) => {
        const base = bases[i]!;
        const file = apply(base, m);
        const ref = await lib(file);
        const cold = await fast(new AgeFastDecrypter(pair.identity), sha256Hex(file), file);
        const hot = await fast(warm[i]!, sha256Hex(base), file);
        for (const got of [cold, hot]) {
          assert.equal(
            got.ok,
            ref.ok,
            `fast ${got.ok ? 'accepted' : 'rejected'} what age-encryption ${ref.ok ? 'accepted' : 'rejected'}: ${JSON.stringify(m)}`,
          );
          if (got.ok && ref.ok) assert.ok(got.out.equals(ref.out));
        }
        // Re-warm: the mutated file may have replaced the entry.
        assert.ok((await fast(warm[i]!, sha256Hex(base), base)).ok);
      }),
      { numRuns: RUNS * 3 },
    );
  });
});
