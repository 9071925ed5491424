/**
 * age decryption (SPEC §2: an age v1 file for an X25519 recipient, binary or ASCII-armored, inside
 * the base64 `ciphertext`). KMS envelope artifacts are decrypted by ./kms.ts; these functions refuse them.
 */
import type { PackedArtifact } from '../../common/artifact.js';
import type { TaskFailure, WorkerInit } from '../../common/protocol.js';
import { getIdentities, getFastDecrypter } from '../keys.js';
import { taskFailure } from '../../common/task-failure.js';
import { AgeFastDecrypter, dearmor } from './age-fast.js';
import { AgeDecryptError, type PlaintextAlloc } from './age-stream.js';

/**
 * Cached mode: decrypts a whole artifact. Returns the plaintext; the caller owns it and must
 * `fill(0)` it once it has been copied into the snapshot arena.
 *
 * The same path as JIT requests (age-fast.ts: age-header.ts verifies the header and unwraps the
 * file key, the payload's STREAM decryption runs on node:crypto), through a one-shot decrypter whose
 * payload key is wiped before this returns, so cached mode keeps no key between loads. The library's
 * own `decrypt` goes through web streams and `Response` (loading Node's internal fetch stack on the
 * first call): slower at start-up and ~100x slower per byte (bench/decrypt-micro.ts).
 */
export async function decryptArtifact(artifact: PackedArtifact, init: WorkerInit): Promise<Uint8Array | TaskFailure> {
  if (artifact.envelope !== undefined) {
    return taskFailure('unsupported_encryption', 'KMS envelope artifacts are not age files (workers/decrypt/kms.ts decrypts them)');
  }
  const decrypter = getIdentities(init);
  if ('ok' in decrypter) return decrypter;
  const file = await ageFileBytes(artifact.ciphertext);
  if (file === null) return taskFailure('decrypt_failed', 'age decryption failed: the ASCII armor is malformed');
  const once = new AgeFastDecrypter(decrypter);
  try {
    return await fastDecrypt(once, artifact.ciphertextHash, file);
  } finally {
    once.clear();
  }
}

/** The binary age file: the base64 decoded, then de-armored when it is PEM-style armor; null when the armor is malformed. */
async function ageFileBytes(ciphertextB64: string): Promise<Uint8Array | null> {
  try {
    return await dearmor(Buffer.from(ciphertextB64, 'base64'));
  } catch {
    return null;
  }
}

/**
 * The age file a JIT artifact is kept as: base64-decoded and de-armored once at load, copied into
 * shared memory so per-request tasks receive a reference, not a copy.
 */
export async function sharedAgeFile(artifact: PackedArtifact): Promise<Uint8Array | TaskFailure> {
  const file = await ageFileBytes(artifact.ciphertext);
  if (file === null) return taskFailure('decrypt_failed', 'age decryption failed: the ASCII armor is malformed');
  const shared = new Uint8Array(new SharedArrayBuffer(file.byteLength));
  shared.set(file);
  return shared;
}

/**
 * JIT mode (SPEC §5.2): decrypt through the worker's `AgeFastDecrypter`, which verifies the header
 * once per `ciphertextHash` and then only decrypts the payload. Same failure codes and wording as
 * `decryptArtifact`. The caller owns and wipes the returned plaintext.
 */
export async function decryptCiphertextFast(
  ciphertextHash: string,
  ageFile: Uint8Array,
  init: WorkerInit,
  alloc?: PlaintextAlloc,
): Promise<Uint8Array | TaskFailure> {
  const fast = getFastDecrypter(init);
  if (!(fast instanceof AgeFastDecrypter)) return fast;
  return fastDecrypt(fast, ciphertextHash, ageFile, alloc);
}

/** One decryption through `fast`, its failures mapped to the agent's codes and fixed wording. */
async function fastDecrypt(fast: AgeFastDecrypter, ciphertextHash: string, ageFile: Uint8Array, alloc?: PlaintextAlloc): Promise<Uint8Array | TaskFailure> {
  try {
    return await fast.decrypt(ciphertextHash, ageFile, alloc);
  } catch (err) {
    if (err instanceof AgeDecryptError && err.reason === 'armor') return taskFailure('decrypt_failed', 'age decryption failed: the ASCII armor is malformed');
    return taskFailure(
      'decrypt_failed',
      err instanceof AgeDecryptError && err.reason === 'no_identity'
        ? 'age decryption failed: the configured age key is not a recipient of this artifact'
        : 'age decryption failed: the ciphertext is corrupted or not an age v1 file',
    );
  }
}
