/**
 * The local KMS server's keys and what it does with them. Symmetric keys are 32 random bytes that
 * wrap data with AES-256-GCM into an opaque CiphertextBlob naming the key; signing keys are
 * ECC_NIST_P256 (node:crypto, signed by kms-ecdsa.ts). Errors carry KMS's own type names.
 */
import { createCipheriv, createDecipheriv, createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { privateScalar, signDigest } from './kms-ecdsa.js';

export const KMS_TEST_REGION = 'eu-west-1';
export const KMS_TEST_ACCOUNT = '111122223333';
export const KMS_OPS = ['Encrypt', 'Decrypt', 'GenerateDataKey', 'Sign', 'GetPublicKey'] as const;
export type KmsOp = (typeof KMS_OPS)[number];
export type Json = Record<string, unknown>;

/** An AWS error as KMS answers it: `__type`, message, HTTP status. */
export class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

type Key =
  | { readonly kind: 'symmetric'; readonly arn: string; readonly material: Buffer }
  | { readonly kind: 'ecc'; readonly arn: string; readonly d: bigint; readonly spki: Buffer };
type SymmetricKey = Key & { kind: 'symmetric' };

/** The server's switches that decide whether a key may be used, and what a data key looks like. */
export interface KeyAccess {
  /** The caller has lost kms:* on every key. */
  readonly deny: boolean;
  /** Key ids (uuid) whose state is Disabled. */
  readonly disabled: ReadonlySet<string>;
  /** Every plaintext data key on its way out (the server may swap it for a wrong one and keeps a copy). */
  readonly handOut: (dataKey: Buffer) => Buffer;
}

export class KmsKeys {
  private readonly keys = new Map<string, Key>();

  /** A new symmetric (SYMMETRIC_DEFAULT) key; returns its ARN. */
  createKey(): string {
    const id = randomUUID();
    const arn = arnOf(id);
    this.keys.set(id, { kind: 'symmetric', arn, material: randomBytes(32) });
    return arn;
  }

  /** A new ECC_NIST_P256 SIGN_VERIFY key; returns its ARN. */
  createSigningKey(): string {
    const id = randomUUID();
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.keys.set(id, { kind: 'ecc', arn: arnOf(id), d: privateScalar(privateKey), spki: publicKey.export({ format: 'der', type: 'spki' }) });
    return arnOf(id);
  }

  run(op: KmsOp, input: Json, access: KeyAccess): Json {
    const key = this.key(op, input, access);
    switch (op) {
      case 'Encrypt':
        return { KeyId: key.arn, CiphertextBlob: wrap(sym(key, op), blob(input, 'Plaintext')).toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      case 'GenerateDataKey': {
        if (input['KeySpec'] !== 'AES_256' && input['NumberOfBytes'] !== 32)
          throw new AwsError('ValidationException', 'this test server makes AES_256 data keys only');
        const dataKey = randomBytes(32);
        const wrapped = wrap(sym(key, op), dataKey);
        return { KeyId: key.arn, CiphertextBlob: wrapped.toString('base64'), Plaintext: access.handOut(dataKey).toString('base64') };
      }
      case 'Decrypt': {
        const plain = unwrap(sym(key, op), blob(input, 'CiphertextBlob'));
        return { KeyId: key.arn, Plaintext: access.handOut(plain).toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      }
      case 'Sign': {
        if (key.kind !== 'ecc') throw new AwsError('InvalidKeyUsageException', `${key.arn} is not a SIGN_VERIFY key`);
        if (input['SigningAlgorithm'] !== 'ECDSA_SHA_256') throw new AwsError('ValidationException', 'SigningAlgorithm must be ECDSA_SHA_256 for this key');
        const message = blob(input, 'Message');
        const digest = input['MessageType'] === 'DIGEST' ? message : createHash('sha256').update(message).digest();
        if (digest.length !== 32) throw new AwsError('ValidationException', 'a DIGEST message must be 32 bytes for ECDSA_SHA_256');
        return { KeyId: key.arn, Signature: signDigest(digest, key.d).toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' };
      }
      case 'GetPublicKey':
        if (key.kind !== 'ecc') throw new AwsError('UnsupportedOperationException', 'this test server has public keys for signing keys only');
        return {
          KeyId: key.arn,
          PublicKey: key.spki.toString('base64'),
          KeySpec: 'ECC_NIST_P256',
          KeyUsage: 'SIGN_VERIFY',
          SigningAlgorithms: ['ECDSA_SHA_256'],
        };
    }
  }

  /** Finds the key (by uuid or ARN; Decrypt without KeyId reads it from the blob) and checks access. */
  private key(op: KmsOp, input: Json, access: KeyAccess): Key {
    let id = typeof input['KeyId'] === 'string' ? input['KeyId'].replace(/^arn:aws:kms:[^:]+:\d+:key\//, '') : undefined;
    const blobKey = op === 'Decrypt' ? blobKeyId(blob(input, 'CiphertextBlob')) : undefined;
    if (op === 'Decrypt' && id !== undefined && blobKey !== undefined && id !== blobKey) {
      throw new AwsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
    }
    id ??= blobKey;
    if (id === undefined) throw new AwsError(op === 'Decrypt' ? 'InvalidCiphertextException' : 'ValidationException', 'no key identified');
    const key = this.keys.get(id);
    if (key === undefined) throw new AwsError('NotFoundException', `Key '${arnOf(id)}' does not exist`);
    if (access.deny) {
      throw new AwsError(
        'AccessDeniedException',
        `User: arn:aws:sts::${KMS_TEST_ACCOUNT}:assumed-role/clef-agent-test/agent is not authorized to perform: kms:${op} on resource: ${key.arn} because no identity-based policy allows the kms:${op} action`,
      );
    }
    if (access.disabled.has(id)) throw new AwsError('DisabledException', `${key.arn} is disabled.`);
    return key;
  }
}

function arnOf(id: string): string {
  return `arn:aws:kms:${KMS_TEST_REGION}:${KMS_TEST_ACCOUNT}:key/${id}`;
}

/** CiphertextBlob: "TKMS" | key-id length | key id | iv(12) | tag(16) | AES-256-GCM(data). */
function wrap(key: SymmetricKey, plaintext: Buffer): Buffer {
  const id = Buffer.from(key.arn.split('/')[1] ?? '', 'utf8');
  const iv = randomBytes(12);
  const c = createCipheriv('aes-256-gcm', key.material, iv);
  const ct = Buffer.concat([c.update(plaintext), c.final()]);
  return Buffer.concat([Buffer.from('TKMS'), Buffer.from([id.length]), id, iv, c.getAuthTag(), ct]);
}

function unwrap(key: SymmetricKey, wrapped: Buffer): Buffer {
  const at = 5 + (wrapped[4] ?? 0);
  try {
    const d = createDecipheriv('aes-256-gcm', key.material, wrapped.subarray(at, at + 12));
    d.setAuthTag(wrapped.subarray(at + 12, at + 28));
    return Buffer.concat([d.update(wrapped.subarray(at + 28)), d.final()]);
  } catch {
    throw new AwsError('InvalidCiphertextException', '');
  }
}

function sym(key: Key, op: KmsOp): SymmetricKey {
  if (key.kind !== 'symmetric') throw new AwsError('InvalidKeyUsageException', `${key.arn} cannot be used for ${op}`);
  return key;
}

function blob(input: Json, field: string): Buffer {
  const v = input[field];
  if (typeof v !== 'string' || v === '')
    throw new AwsError('ValidationException', `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`);
  return Buffer.from(v, 'base64');
}

function blobKeyId(wrapped: Buffer): string | undefined {
  if (wrapped.subarray(0, 4).toString('latin1') !== 'TKMS' || wrapped.length < 5) throw new AwsError('InvalidCiphertextException', '');
  return wrapped.subarray(5, 5 + (wrapped[4] ?? 0)).toString('utf8');
}
