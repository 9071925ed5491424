/**
 * age decryption (SPEC §2: an age v1 file for an X25519 recipient, binary or ASCII-armored, inside
 * the base64 `ciphertext`). KMS envelope artifacts are decrypted by ./kms.ts; these functions refuse them.
 */
import type { PackedArtifact } from '../../common/artifact.js';
import type { TaskFailure, WorkerInit } from '../../common/protocol.js';
import { getDecrypter, getFastDecrypter } from '../keys.js';
import { taskFailure } from '../../common/task-failure.js';
import { AgeFastDecrypter, dearmor } from './age-fast.js';
import { AgeDecryptError } from './age-stream.js';

/**
 * Returns the plaintext. The caller owns it and must `fill(0)` it once it has been copied into the
 * snapshot arena.
 */
export async function decryptArtifact(artifact: PackedArtifact, init: WorkerInit): Promise<Uint8Array | TaskFailure> {
  if (artifact.envelope !== undefined) {
    return taskFailure('unsupported_encryption', 'KMS envelope artifacts are not age files (workers/decrypt/kms.ts decrypts them)');
  }
  const decrypter = getDecrypter(init);
  if ('ok' in decrypter) return decrypter;
  const file = ageFileBytes(artifact.ciphertext);
  if (file === null) return taskFailure('decrypt_failed', 'age decryption failed: the ASCII armor is malformed');
  try {
    return await decrypter.decrypt(file);
  } catch (err) {
    // The library's messages carry no secrets, but we still map them to fixed wording.
    const noMatch = err instanceof Error && /no identity matched/i.test(err.message);
    return taskFailure(
      'decrypt_failed',
      noMatch
        ? 'age decryption failed: the configured age key is not a recipient of this artifact'
        : 'age decryption failed: the ciphertext is corrupted or not an age v1 file',
    );
  }
}

/** The binary age file: the base64 decoded, then de-armored when it is PEM-style armor; null when the armor is malformed. */
function ageFileBytes(ciphertextB64: string): Uint8Array | null {
  try {
    return dearmor(Buffer.from(ciphertextB64, 'base64'));
  } catch {
    return null;
  }
}

/**
 * The age file a JIT artifact is kept as: base64-decoded and de-armored once at load, copied into
 * shared memory so per-request tasks receive a reference, not a copy.
 */
export function sharedAgeFile(artifact: PackedArtifact): Uint8Array | TaskFailure {
  const file = ageFileBytes(artifact.ciphertext);
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
export async function decryptCiphertextFast(ciphertextHash: string, ageFile: Uint8Array, init: WorkerInit): Promise<Uint8Array | TaskFailure> {
  const fast = getFastDecrypter(init);
  if (!(fast instanceof AgeFastDecrypter)) return fast;
  try {
    return await fast.decrypt(ciphertextHash, ageFile);
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
