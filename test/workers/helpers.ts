/** Shared fixtures for the worker tests: age keys, artifacts, signatures. */
import { execFileSync } from 'node:child_process';
import { Encrypter, armor } from 'age-encryption';
import { signingPayload, type PackedArtifact } from '../../common/artifact.js';
import type { Span, WorkerInit } from '../../common/protocol.js';
import { sha256Hex, signatureFields, signingKey, type AgeKeyPair, type SigningKey } from '../helpers/artifacts.js';

// The worker tests use the same keys and hashes as every other suite.
export { sha256Hex, signingKey, type AgeKeyPair, type SigningKey };

/** A key pair from the reference `age-keygen`. */
export function ageKeygen(): AgeKeyPair {
  const out = execFileSync('age-keygen', { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const identity = /^AGE-SECRET-KEY-1[0-9A-Z]+$/m.exec(out)?.[0];
  const recipient = /public key: (age1[0-9a-z]+)/.exec(out)?.[1];
  if (identity === undefined || recipient === undefined) throw new Error('unexpected age-keygen output');
  return { identity, recipient };
}

/** Encrypts with the reference `age` CLI (`-a` for ASCII armor). */
export function ageCliEncrypt(plaintext: string, recipient: string, armored = false): Buffer {
  const args = armored ? ['-a', '-r', recipient] : ['-r', recipient];
  return execFileSync('age', args, { input: Buffer.from(plaintext, 'utf8'), stdio: ['pipe', 'pipe', 'pipe'] });
}

/** In-process encryption, for the many artifacts the property tests need. */
export async function ageLibEncrypt(plaintext: string, recipient: string, armored = false): Promise<Buffer> {
  const e = new Encrypter();
  e.addRecipient(recipient);
  const bin = await e.encrypt(plaintext);
  return armored ? Buffer.from(armor.encode(bin), 'utf8') : Buffer.from(bin);
}

export const PACKED_AT = '2025-06-01T12:00:00.000Z';
export const NOW_MS = Date.parse('2025-06-02T00:00:00Z');

/** A well-formed v1 artifact around `ageFile`; `overrides` are applied before signing. */
export function makeArtifact(ageFile: Uint8Array, overrides: Partial<Record<keyof PackedArtifact, unknown>> = {}, key?: SigningKey): Record<string, unknown> {
  const ciphertext = Buffer.from(ageFile).toString('base64');
  const a: Record<string, unknown> = {
    version: 1,
    identity: 'api',
    environment: 'production',
    packedAt: PACKED_AT,
    revision: 'rev-1',
    ciphertextHash: sha256Hex(ciphertext),
    ciphertext,
    ...overrides,
  };
  if (key !== undefined) Object.assign(a, signatureFields(key, signingPayload(a as unknown as PackedArtifact)));
  return a;
}

export function bytesOf(v: unknown): Uint8Array {
  return Buffer.from(JSON.stringify(v), 'utf8');
}

/** What a worker is started with: the age identity inline, as the pool hands it over. */
export function inlineKey(identity: string): WorkerInit {
  return { ageKey: { kind: 'inline', bytes: Buffer.from(identity, 'utf8') } };
}

/** The text a result's span points at in its arena. */
export function spanText(arena: Uint8Array, s: Span): string {
  return Buffer.from(arena.buffer, arena.byteOffset + s.offset, s.length).toString('utf8');
}

/** fast-check run count: quick by default, thorough with SLOW=1. */
export const RUNS = process.env['SLOW'] === '1' ? 2000 : 200;

/**
 * The task file a real pool's workers load, as src/pool.ts names it in the tsc build: the CommonJS
 * file that import()s dist/workers/index.js (workers/task.cts says why not the entry itself).
 */
export const POOL_TASK_FILE = new URL('../../workers/task.cjs', import.meta.url).href;
