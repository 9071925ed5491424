/**
 * KMS envelope decryption (SPEC §2): AWS KMS `Decrypt` unwraps `envelope.wrappedKey` into a 32-byte
 * data key, which opens the AES-256-GCM `ciphertext`. Runs only in workers.
 *
 * The data key never leaves this module: the SDK's output buffer is the only copy we own, and it is
 * zeroed in a `finally` on every path. (The SDK's own intermediate copies — the HTTP response bytes,
 * the parsed JSON's base64 string — are out of our reach; SECURITY.md says so.) No data key is
 * cached: JIT mode calls KMS on every request, so revoking the IAM grant stops the next request.
 */
import { DecryptCommand, EncryptionAlgorithmSpec } from '@aws-sdk/client-kms';
import type { Envelope, PackedArtifact } from '../../common/artifact.js';
import type { KmsSealed, TaskFailure } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import { quote } from '../../common/display.js';
import { decodeBase64Strict } from '../signature.js';
import { IV_BYTES, TAG_BYTES, openAesGcm } from './kms-aead.js';
import { classifyKmsError, kmsClient } from './kms-client.js';
import { KMS_LIMITS } from '../../common/limits.js';

export const SUPPORTED_PROVIDERS = ['aws'] as const;
const ALGORITHMS: ReadonlySet<string> = new Set(Object.values(EncryptionAlgorithmSpec));

/** Cached mode: decrypt a whole artifact. The caller owns and wipes the plaintext. */
export function decryptKmsArtifact(artifact: PackedArtifact): Promise<Uint8Array | TaskFailure> {
  const sealed = sealKms(artifact, { shared: false });
  return 'ok' in sealed ? Promise.resolve(sealed) : openKms(sealed);
}

/**
 * What JIT mode keeps: the envelope and the AES-GCM ciphertext, decoded once (in shared memory
 * when `shared`, so per-request tasks get a reference, not a copy). The envelope is checked here
 * so an artifact that can never be opened is refused at load, before any KMS call.
 */
export function sealKms(artifact: PackedArtifact, { shared }: { readonly shared: boolean }): KmsSealed | TaskFailure {
  const envelope = artifact.envelope;
  if (envelope === undefined) return taskFailure('internal', 'sealKms called for an artifact without an envelope');
  const parts = decodeEnvelope(envelope);
  if ('ok' in parts) return parts;
  const raw = Buffer.from(artifact.ciphertext, 'base64');
  if (!shared) return { envelope, ciphertext: raw };
  const ciphertext = new Uint8Array(new SharedArrayBuffer(raw.byteLength));
  ciphertext.set(raw);
  return { envelope, ciphertext };
}

/** One KMS Decrypt, then AES-256-GCM. The caller owns and wipes the returned plaintext. */
export async function openKms(sealed: KmsSealed): Promise<Uint8Array | TaskFailure> {
  const { envelope } = sealed;
  const parts = decodeEnvelope(envelope);
  if ('ok' in parts) return parts;
  const { iv, tag, wrapped } = parts;

  let dataKey: Uint8Array | undefined;
  try {
    const out = await kmsClient().send(
      new DecryptCommand({
        CiphertextBlob: wrapped,
        KeyId: envelope.keyId,
        EncryptionAlgorithm: envelope.algorithm as EncryptionAlgorithmSpec,
      }),
      // Bounds the whole call, retries and backoff included (kms-client.ts explains the numbers).
      { abortSignal: AbortSignal.timeout(KMS_LIMITS.totalMs) },
    );
    dataKey = out.Plaintext;
  } catch (err) {
    return classifyKmsError(err);
  }
  if (dataKey === undefined) return taskFailure('decrypt_failed', 'KMS Decrypt answered without a Plaintext data key');
  try {
    return openAesGcm(dataKey, iv, tag, sealed.ciphertext);
  } finally {
    dataKey.fill(0);
  }
}

/**
 * What the shape check (workers/validate.ts) leaves open: a provider and algorithm we can call,
 * and iv/authTag/wrappedKey that decode to usable sizes. Malformed envelopes fail here, without a
 * KMS call. Field values are quoted only where they are names (provider, algorithm), never bytes.
 */
function decodeEnvelope(e: Envelope): { iv: Buffer; tag: Buffer; wrapped: Buffer } | TaskFailure {
  if (!(SUPPORTED_PROVIDERS as readonly string[]).includes(e.provider)) {
    return taskFailure(
      'unsupported_encryption',
      `envelope.provider ${quote(e.provider, 40)} is not supported: supported providers are ${SUPPORTED_PROVIDERS.map((p) => `"${p}" (AWS KMS)`).join(', ')}`,
    );
  }
  if (!ALGORITHMS.has(e.algorithm)) {
    return taskFailure(
      'unsupported_encryption',
      `envelope.algorithm ${quote(e.algorithm, 40)} is not a KMS encryption algorithm: expected one of ${[...ALGORITHMS].join(', ')}`,
    );
  }
  const iv = decodeBase64Strict(e.iv);
  if (iv === null || iv.byteLength !== IV_BYTES) return taskFailure('decrypt_failed', `envelope.iv must be ${IV_BYTES} bytes in standard base64`);
  const tag = decodeBase64Strict(e.authTag);
  if (tag === null || tag.byteLength !== TAG_BYTES) return taskFailure('decrypt_failed', `envelope.authTag must be ${TAG_BYTES} bytes in standard base64`);
  const wrapped = decodeBase64Strict(e.wrappedKey);
  if (wrapped === null || wrapped.byteLength === 0) return taskFailure('decrypt_failed', 'envelope.wrappedKey must be a KMS CiphertextBlob in standard base64');
  return { iv, tag, wrapped };
}
