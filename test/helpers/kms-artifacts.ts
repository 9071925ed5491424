/**
 * Test-side KMS envelope artifacts, assembled by hand from SPEC §2 (independent of
 * `clef-agent pack`, which uses GenerateDataKey: this uses KMS `Encrypt` of a locally made data
 * key, so both ways of wrapping are exercised). Talks to the local KMS server through the real SDK.
 */
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import https from 'node:https';
import { EncryptCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { signingPayload, type Envelope } from '../../common/artifact.js';
import { sha256Hex, signatureFields, type SigningKey } from './artifacts.js';
import { KMS_TEST_CREDENTIALS, KMS_TEST_REGION, type KmsServer } from '../../emulators/kms-server.js';

export interface KmsBuildOptions {
  readonly keyId: string;
  readonly payload: unknown;
  readonly identity?: string;
  readonly environment?: string;
  readonly revision?: string;
  readonly packedAt?: string;
  /** Sign with a local key, or with a KMS ECC_NIST_P256 key (Sign, DIGEST, ECDSA_SHA_256). */
  readonly sign?: SigningKey | { readonly kmsKeyId: string };
  /** Envelope fields replaced before hashing and signing (e.g. another provider). */
  readonly envelope?: Partial<Envelope>;
  /** Applied after hashing and signing (tamper tests). */
  readonly mutate?: (a: Record<string, unknown> & { envelope: Record<string, string> }) => void;
}

/** An SDK client aimed at `server` explicitly (the test process's env is left alone; an https server's CA is trusted). */
export function testKmsClient(server: KmsServer): KMSClient {
  const tls = server.options.tls;
  return new KMSClient({
    endpoint: server.endpoint,
    region: KMS_TEST_REGION,
    credentials: KMS_TEST_CREDENTIALS,
    maxAttempts: 1,
    ...(tls === undefined ? {} : { requestHandler: { httpsAgent: new https.Agent({ ca: tls.caPem }) } }),
  });
}

export async function kmsArtifact(server: KmsServer, o: KmsBuildOptions): Promise<Record<string, unknown> & { envelope: Record<string, string> }> {
  const client = testKmsClient(server);
  try {
    const dataKey = randomBytes(32);
    const wrapped = await client.send(new EncryptCommand({ KeyId: o.keyId, Plaintext: dataKey }));
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv);
    const body = typeof o.payload === 'string' ? o.payload : JSON.stringify(o.payload);
    const ciphertext = Buffer.concat([cipher.update(body, 'utf8'), cipher.final()]).toString('base64');
    dataKey.fill(0);
    const envelope: Envelope = {
      provider: 'aws',
      keyId: o.keyId,
      wrappedKey: Buffer.from(wrapped.CiphertextBlob ?? new Uint8Array()).toString('base64'),
      algorithm: 'SYMMETRIC_DEFAULT',
      iv: iv.toString('base64'),
      authTag: cipher.getAuthTag().toString('base64'),
      ...o.envelope,
    };
    const a = {
      version: 1 as const,
      identity: o.identity ?? 'api',
      environment: o.environment ?? 'production',
      packedAt: o.packedAt ?? new Date().toISOString(),
      revision: o.revision ?? `kms-${randomBytes(4).toString('hex')}`,
      ciphertextHash: sha256Hex(ciphertext),
      ciphertext,
      envelope: { ...envelope },
    } as Record<string, unknown> & { envelope: Record<string, string> };
    const s = o.sign;
    if (s !== undefined) {
      const payload = signingPayload({ ...(a as unknown as Parameters<typeof signingPayload>[0]), envelope });
      if ('kmsKeyId' in s) {
        const digest = createHash('sha256').update(payload).digest();
        const out = await client.send(new SignCommand({ KeyId: s.kmsKeyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' }));
        a['signature'] = Buffer.from(out.Signature ?? new Uint8Array()).toString('base64');
        a['signatureAlgorithm'] = 'ECDSA_SHA256';
      } else {
        Object.assign(a, signatureFields(s, payload));
      }
    }
    o.mutate?.(a);
    return a;
  } finally {
    client.destroy();
  }
}

/** Flip one bit of a base64 field's decoded bytes (same length: only the content is wrong). A negative index counts from the end. */
export function flipBase64(b64: string, index = 0): string {
  const b = Buffer.from(b64, 'base64');
  const i = index < 0 ? b.length + index : index;
  b[i] = (b[i] ?? 0) ^ 0x01;
  return b.toString('base64');
}
