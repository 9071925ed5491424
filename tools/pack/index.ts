/**
 * `clef-agent pack`: encrypt a payload to age recipients, or seal it in an AWS KMS envelope
 * (pack/kms.ts), and write a packed artifact (SPEC §2).
 *
 * `packArtifact` is the library entry (tests, benchmarks, the demo); the command line is
 * pack/command.ts. The plaintext goes only into the age encrypter or the KMS seal; nothing here
 * prints or stores it.
 */

import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { Encrypter, armor as ageArmor } from 'age-encryption';
import { signingPayload, type Envelope, type PackedArtifact } from '../../common/artifact.js';
import { hasControlChars } from '../../common/text.js';
import { PACKED_AT_MAX_AHEAD_MS } from '../../common/limits.js';
import { parsePackedAt } from './args.js';
import { PackError } from './errors.js';
import { payloadPlaintext, type PackPayload } from './payload.js';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { PackSigner } from './kms.js';
import { makeSigner, parseSigningKey, type Signer } from './sign.js';

export { PackError } from './errors.js';
export type { PackPayload } from './payload.js';

export interface PackArtifactOptions {
  /** The payload (SPEC §2.1): an object, or its JSON text as a string or UTF-8 bytes. */
  readonly payload: PackPayload | string | Uint8Array;
  /** age X25519 recipients (`age1…`); at least one, unless `kmsKeyId` is given instead. */
  readonly recipients?: readonly string[] | undefined;
  /** Make a KMS envelope artifact (SPEC §2) under this KMS key instead of an age file. */
  readonly kmsKeyId?: string | undefined;
  /** Sign with this KMS ECC_NIST_P256 key (`Sign`, ECDSA_SHA_256) instead of `signingKey`. */
  readonly signKmsKeyId?: string | undefined;
  /** The KMS client (tests, custom endpoints); default: the SDK's default chain and region. */
  readonly kmsClient?: KMSClient | undefined;
  readonly identity: string;
  readonly environment: string;
  /** Default: `<UTC timestamp>-<8 random hex digits>`. */
  readonly revision?: string | undefined;
  /** Default: now. A string must be ISO-8601 with a zone; it is normalised with toISOString(). */
  readonly packedAt?: Date | string | undefined;
  /**
   * Accept a `packedAt` more than PACKED_AT_MAX_AHEAD_MS ahead of this machine's clock. Agents
   * refuse such an artifact (`clock_skew`) until their clock catches up: only for a packing
   * machine whose clock is known to be behind.
   */
  readonly allowFuturePackedAt?: boolean | undefined;
  /** Sets `expiresAt` = packedAt + ttlSeconds (a positive integer). */
  readonly ttlSeconds?: number | undefined;
  /** Ed25519 or P-256 private key: a KeyObject, or PKCS#8 PEM / base64 DER as text or bytes. */
  readonly signingKey?: KeyObject | string | Uint8Array | undefined;
  /** ASCII-armor the age file before base64 (SPEC §2 allows both). */
  readonly armor?: boolean | undefined;
}

export interface PackResult {
  readonly artifact: PackedArtifact;
  /** The exact artifact bytes to write: `JSON.stringify(artifact, null, 2) + "\n"`. */
  readonly json: string;
  /** Base64 DER SPKI for `CLEF_AGENT_VERIFY_KEY`, when signed. */
  readonly verifyKey?: string | undefined;
}

/** X25519 recipient: `age1` + 58 bech32 characters. Hybrid/plugin recipients are not in the format. */
const RECIPIENT_RE = /^age1[qpzry9x8gf2tvdw0s3jn54khce6mua7l]{58}$/;

/**
 * Names end up as lines of the signing payload (§2.2) and in paths and logs: a newline would let
 * one field pose as the next, so control characters are refused; edge whitespace is a typo.
 */
function checkName(value: string, flag: string): void {
  if (value === '' || hasControlChars(value) || value.trim() !== value) {
    throw new PackError(`${flag} must be non-empty, without control characters or leading/trailing spaces`);
  }
}

/** Never echoes the recipient: a pasted secret key is the classic mistake here. */
function checkRecipient(value: string, index: number): void {
  const which = `--recipient #${index + 1}`;
  if (value.toUpperCase().startsWith('AGE-SECRET-KEY-')) {
    throw new PackError(`${which} is an age secret key; pass its public recipient (age-keygen -y prints it)`);
  }
  if (!RECIPIENT_RE.test(value)) {
    throw new PackError(`${which} is not an age X25519 recipient ("age1" + 58 lowercase characters, as age-keygen prints)`);
  }
}

/** `20250131T120000Z-1a2b3c4d`: sorts by time, and the random part separates same-second packs. */
function defaultRevision(packedAt: Date): string {
  const stamp = packedAt
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${stamp}-${randomBytes(4).toString('hex')}`;
}

function toSigner(key: KeyObject | string | Uint8Array): Signer {
  if (typeof key === 'string') return makeSigner(parseSigningKey(Buffer.from(key, 'utf8')));
  return makeSigner(key instanceof Uint8Array ? parseSigningKey(key) : key);
}

export async function packArtifact(options: PackArtifactOptions): Promise<PackResult> {
  const { identity, environment, kmsKeyId, signKmsKeyId } = options;
  const recipients = options.recipients ?? [];
  checkName(identity, '--identity');
  checkName(environment, '--environment');
  if (kmsKeyId !== undefined) {
    if (recipients.length > 0) throw new PackError('--kms-key-id and --recipient are exclusive: an artifact is either a KMS envelope or an age file');
    if (options.armor === true) throw new PackError('--armor applies to age files only, not to KMS envelope artifacts');
    checkName(kmsKeyId, '--kms-key-id');
  } else {
    if (recipients.length === 0) throw new PackError('at least one --recipient (or --kms-key-id) is required');
    recipients.forEach(checkRecipient);
  }
  if (signKmsKeyId !== undefined) {
    if (options.signingKey !== undefined) throw new PackError('--sign-key and --sign-kms-key-id are exclusive: sign with one key');
    checkName(signKmsKeyId, '--sign-kms-key-id');
  }

  const packedAt = typeof options.packedAt === 'string' ? parsePackedAt(options.packedAt) : (options.packedAt ?? new Date());
  if (Number.isNaN(packedAt.getTime())) throw new PackError('--packed-at is not a valid time');
  if (options.allowFuturePackedAt !== true && packedAt.getTime() > Date.now() + PACKED_AT_MAX_AHEAD_MS) {
    // A future packedAt would become every agent's rollback floor; agents refuse it (clock_skew).
    throw new PackError(
      `--packed-at ${packedAt.toISOString()} is more than ${PACKED_AT_MAX_AHEAD_MS / 60_000} minutes in the future: agents refuse it (clock_skew); pass --allow-future-packed-at if this machine's clock is behind`,
    );
  }
  const revision = options.revision ?? defaultRevision(packedAt);
  checkName(revision, '--revision');

  let expiresAt: string | undefined;
  if (options.ttlSeconds !== undefined) {
    const ttl = options.ttlSeconds;
    if (!Number.isSafeInteger(ttl) || ttl <= 0) throw new PackError('--ttl must be a positive whole number of seconds');
    const expiry = new Date(packedAt.getTime() + ttl * 1000);
    if (Number.isNaN(expiry.getTime())) throw new PackError('--ttl puts expiresAt beyond the representable range');
    expiresAt = expiry.toISOString();
  }

  // Only KMS packing loads the AWS SDK (pack/kms.ts).
  const kms = kmsKeyId !== undefined || signKmsKeyId !== undefined ? await import('./kms.js') : undefined;
  const client = kms === undefined ? undefined : (options.kmsClient ?? kms.defaultKmsClient());
  // Load the key before encrypting, so a bad key fails fast and before any plaintext is handled.
  const signer: PackSigner | undefined =
    signKmsKeyId !== undefined && kms !== undefined && client !== undefined
      ? await kms.kmsSigner(client, signKmsKeyId)
      : options.signingKey === undefined
        ? undefined
        : toSigner(options.signingKey);

  let ciphertext: string;
  let envelope: Envelope | undefined;
  if (kmsKeyId !== undefined && kms !== undefined && client !== undefined) {
    const plaintext = payloadPlaintext(options.payload);
    try {
      ({ ciphertext, envelope } = await kms.sealWithKms(client, kmsKeyId, plaintext));
    } finally {
      plaintext.fill(0);
    }
  } else {
    ciphertext = await ageCiphertext(recipients, options);
  }
  // §2: the hash covers the UTF-8 bytes of the base64 text, not the decoded age file.
  const ciphertextHash = createHash('sha256').update(ciphertext, 'utf8').digest('hex');

  const header = {
    version: 1 as const,
    identity,
    environment,
    packedAt: packedAt.toISOString(),
    revision,
    ciphertextHash,
    expiresAt,
    // The envelope fields are lines of the signing payload (§2.2): a signature covers them.
    envelope,
  };
  // Built field by field in SPEC §2 table order: JSON.stringify keeps insertion order, and absent
  // optional fields must be absent keys, not `undefined` ones.
  const artifact: PackedArtifact = {
    version: header.version,
    identity,
    environment,
    packedAt: header.packedAt,
    revision,
    ciphertextHash,
    ciphertext,
    ...(envelope !== undefined ? { envelope } : {}),
    ...(expiresAt !== undefined ? { expiresAt } : {}),
    ...(signer !== undefined ? { signature: await signer.sign(signingPayload(header)), signatureAlgorithm: signer.algorithm } : {}),
  };
  return { artifact, json: JSON.stringify(artifact, null, 2) + '\n', verifyKey: signer?.verifyKey };
}

/** The base64 age file (optionally armored) for `recipients`. */
async function ageCiphertext(recipients: readonly string[], options: PackArtifactOptions): Promise<string> {
  const encrypter = new Encrypter();
  recipients.forEach((r, i) => {
    try {
      encrypter.addRecipient(r);
    } catch {
      throw new PackError(`--recipient #${i + 1} is not a valid age recipient (bad checksum or encoding)`);
    }
  });
  const plaintext = payloadPlaintext(options.payload);
  let ageFile: Uint8Array;
  try {
    ageFile = await encrypter.encrypt(plaintext);
  } finally {
    plaintext.fill(0);
  }
  return options.armor === true
    ? Buffer.from(ageArmor.encode(ageFile), 'utf8').toString('base64')
    : Buffer.from(ageFile.buffer, ageFile.byteOffset, ageFile.byteLength).toString('base64');
}
