/**
 * KMS envelope decryption (SPEC §2): AWS KMS `Decrypt` unwraps `envelope.wrappedKey` into a 32-byte
 * data key, which opens the AES-256-GCM `ciphertext`. Runs only in workers.
 *
 * The data key goes no further than `openKms`: the SDK's output buffer (handed back by
 * kms-client.ts) is the only copy we own, and it is zeroed in a `finally` on every path. (The SDK's own intermediate copies — the HTTP response bytes,
 * the parsed JSON's base64 string — are out of our reach; SECURITY.md says so.) No data key is
 * cached: JIT mode calls KMS on every request, so revoking the IAM grant stops the next request.
 */
import type { Envelope, PackedArtifact } from '../../common/artifact.js';
import type { KmsSealed, TaskFailure } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import { quote } from '../../common/display.js';
import { decodeBase64Strict } from '../signature.js';
import { IV_BYTES, TAG_BYTES, openAesGcm } from './kms-aead.js';
import type * as KmsClient from './kms-client.js';

export const SUPPORTED_PROVIDERS = ['aws'] as const;
/**
 * KMS's `EncryptionAlgorithmSpec` values, spelled out so that checking an envelope does not load
 * the SDK (test/workers/kms-decrypt.test.ts keeps this list equal to the SDK's).
 */
export const KMS_ALGORITHMS: ReadonlySet<string> = new Set(['SYMMETRIC_DEFAULT', 'RSAES_OAEP_SHA_1', 'RSAES_OAEP_SHA_256', 'SM2PKE']);

/** The SDK-backed half (kms-client.ts), imported on the first KMS decryption of this worker. */
let client: Promise<typeof KmsClient> | undefined;

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

  const dataKey = await (await (client ??= import('./kms-client.js'))).kmsDecrypt(wrapped, envelope.keyId, envelope.algorithm);
  if ('ok' in dataKey) return dataKey;
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
  if (!KMS_ALGORITHMS.has(e.algorithm)) {
    return taskFailure(
      'unsupported_encryption',
      `envelope.algorithm ${quote(e.algorithm, 40)} is not a KMS encryption algorithm: expected one of ${[...KMS_ALGORITHMS].join(', ')}`,
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
