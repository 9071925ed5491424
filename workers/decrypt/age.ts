/**
 * age decryption (SPEC §2: an age v1 file for an X25519 recipient, binary or ASCII-armored, inside
 * the base64 `ciphertext`). KMS envelopes are recognised and refused until KMS support lands.
 */
import { armor } from 'age-encryption';
import type { PackedArtifact } from '../../common/artifact.js';
import type { TaskFailure, WorkerInit } from '../../common/protocol.js';
import { getDecrypter, getFastDecrypter } from '../keys.js';
import { fail } from '../result.js';
import { AgeDecryptError, AgeFastDecrypter } from './age-fast.js';

const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';

/**
 * Returns the plaintext. The caller owns it and must `fill(0)` it once it has been copied into the
 * snapshot arena.
 */
export async function decryptArtifact(artifact: PackedArtifact, init: WorkerInit): Promise<Uint8Array | TaskFailure> {
  if (artifact.envelope !== undefined) {
    return fail('unsupported_encryption', 'KMS envelope artifacts are not supported yet');
  }
  const decrypter = getDecrypter(init);
  if ('ok' in decrypter) return decrypter;
  const file = ageFileBytes(artifact.ciphertext);
  if (file === null) return fail('decrypt_failed', 'age decryption failed: the ASCII armor is malformed');
  try {
    return await decrypter.decrypt(file);
  } catch (err) {
    // The library's messages carry no secrets, but we still map them to fixed wording.
    const noMatch = err instanceof Error && /no identity matched/i.test(err.message);
    return fail(
      'decrypt_failed',
      noMatch
        ? 'age decryption failed: the configured age key is not a recipient of this artifact'
        : 'age decryption failed: the ciphertext is corrupted or not an age v1 file',
    );
  }
}

/** The binary age file: the base64 decoded, then de-armored when it is PEM-style armor. */
function ageFileBytes(ciphertextB64: string): Uint8Array | null {
  const raw = Buffer.from(ciphertextB64, 'base64');
  const head = raw.subarray(0, 64).toString('latin1').trimStart();
  if (!head.startsWith(ARMOR_BEGIN)) return raw;
  try {
    return armor.decode(raw.toString('utf8'));
  } catch {
    return null;
  }
}

/**
 * JIT mode (SPEC §5.2): like `decryptArtifact`, through the worker's `AgeFastDecrypter`, which
 * verifies the header once per `ciphertextHash` and then only decrypts the payload. Same failure
 * codes and wording as `decryptArtifact`. The caller owns and wipes the returned plaintext.
 */
export async function decryptArtifactFast(artifact: PackedArtifact, init: WorkerInit): Promise<Uint8Array | TaskFailure> {
  if (artifact.envelope !== undefined) {
    return fail('unsupported_encryption', 'KMS envelope artifacts are not supported yet');
  }
  const fast = getFastDecrypter(init);
  if (!(fast instanceof AgeFastDecrypter)) return fast;
  try {
    // Armor, if any, is decoded inside (age-encryption's armor.decode).
    return await fast.decrypt(artifact.ciphertextHash, Buffer.from(artifact.ciphertext, 'base64'));
  } catch (err) {
    if (err instanceof AgeDecryptError && err.reason === 'armor') return fail('decrypt_failed', 'age decryption failed: the ASCII armor is malformed');
    return fail(
      'decrypt_failed',
      err instanceof AgeDecryptError && err.reason === 'no_identity'
        ? 'age decryption failed: the configured age key is not a recipient of this artifact'
        : 'age decryption failed: the ciphertext is corrupted or not an age v1 file',
    );
  }
}
