/**
 * The symmetric half of a KMS envelope (SPEC §2): AES-256-GCM with a 12-byte iv and a separate
 * 16-byte tag (`ciphertext` carries no tag). Kept apart from the KMS call so it can be tested with
 * known-answer vectors and no network.
 */
import { createDecipheriv } from 'node:crypto';
import type { TaskFailure } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';

export const DATA_KEY_BYTES = 32;
export const IV_BYTES = 12;
export const TAG_BYTES = 16;

/**
 * Returns the plaintext (the caller owns it and must `fill(0)` it). Never touches `key` beyond
 * reading it: zeroing the data key is the caller's job, so one `finally` covers every exit.
 * Every failure is `decrypt_failed` with a message that says which part is wrong, never a byte of it.
 */
export function openAesGcm(key: Uint8Array, iv: Uint8Array, tag: Uint8Array, ciphertext: Uint8Array): Buffer | TaskFailure {
  // Checked here, not left to OpenSSL: a wrong-length key would throw a generic "Invalid key length".
  if (key.byteLength !== DATA_KEY_BYTES) {
    return taskFailure('decrypt_failed', `KMS returned a ${key.byteLength}-byte data key; AES-256-GCM needs exactly ${DATA_KEY_BYTES} bytes`);
  }
  if (iv.byteLength !== IV_BYTES) return taskFailure('decrypt_failed', `envelope.iv is ${iv.byteLength} bytes; expected ${IV_BYTES}`);
  if (tag.byteLength !== TAG_BYTES) return taskFailure('decrypt_failed', `envelope.authTag is ${tag.byteLength} bytes; expected ${TAG_BYTES}`);
  let out: Buffer | undefined;
  try {
    // authTagLength pins the tag size, so a truncated tag can never be accepted.
    const decipher = createDecipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    decipher.setAuthTag(tag);
    out = decipher.update(ciphertext);
    // GCM releases no bytes at final(); it only checks the tag. Until it passes, `out` is
    // unauthenticated and is wiped on failure, never returned.
    decipher.final();
    return out;
  } catch {
    out?.fill(0);
    return taskFailure(
      'decrypt_failed',
      'AES-256-GCM authentication failed: the ciphertext, envelope.iv or envelope.authTag was altered, or the data key is not the one the artifact was sealed with',
    );
  }
}
