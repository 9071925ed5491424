/**
 * Test-side artifact builder, assembled by hand from SPEC §2 (independent of `clef-agent pack`,
 * so the two check each other). Uses age-encryption for the age file and node:crypto to sign.
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { Encrypter, armor, generateIdentity, identityToRecipient } from 'age-encryption';
import { signingPayload } from '../../common/artifact.js';

export interface AgeKeyPair {
  readonly identity: string;
  readonly recipient: string;
}

export async function ageKeyPair(): Promise<AgeKeyPair> {
  const identity = await generateIdentity();
  return { identity, recipient: await identityToRecipient(identity) };
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export interface SigningKey {
  readonly type: 'ed25519' | 'p256';
  readonly privateKey: KeyObject;
  /** Base64 DER SPKI: the CLEF_AGENT_VERIFY_KEY value. */
  readonly verifyKey: string;
}

export function signingKey(type: 'ed25519' | 'p256' = 'ed25519'): SigningKey {
  const { privateKey, publicKey } = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { type, privateKey, verifyKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64') };
}

/** `signature` and `signatureAlgorithm` for an artifact whose signing payload (SPEC §2) is `payload`. */
export function signatureFields(key: SigningKey, payload: Buffer): { signature: string; signatureAlgorithm: 'Ed25519' | 'ECDSA_SHA256' } {
  const ed = key.type === 'ed25519';
  return { signature: sign(ed ? null : 'sha256', payload, key.privateKey).toString('base64'), signatureAlgorithm: ed ? 'Ed25519' : 'ECDSA_SHA256' };
}

export interface BuildOptions {
  readonly recipient: string;
  readonly payload: unknown;
  readonly identity?: string;
  readonly environment?: string;
  readonly revision?: string;
  readonly packedAt?: string;
  readonly expiresAt?: string;
  readonly revokedAt?: string;
  readonly sign?: SigningKey;
  readonly armor?: boolean;
  /** Use these age bytes as-is instead of encrypting `payload` (e.g. from the reference CLI). */
  readonly ageBytes?: Uint8Array;
  /** Applied to the artifact object after hashing and signing (tamper tests). */
  readonly mutate?: (a: Record<string, unknown>) => void;
}

/** The artifact object (SPEC §2), hashed and optionally signed. */
export async function buildArtifact(o: BuildOptions): Promise<Record<string, unknown>> {
  let age = o.ageBytes;
  if (!age) {
    const e = new Encrypter();
    e.addRecipient(o.recipient);
    age = await e.encrypt(typeof o.payload === 'string' ? o.payload : JSON.stringify(o.payload));
  }
  const ciphertext = o.armor ? Buffer.from(armor.encode(age), 'utf8').toString('base64') : Buffer.from(age).toString('base64');
  const a: Record<string, unknown> = {
    version: 1,
    identity: o.identity ?? 'api',
    environment: o.environment ?? 'production',
    packedAt: o.packedAt ?? new Date().toISOString(),
    revision: o.revision ?? `rev-${Math.random().toString(36).slice(2, 10)}`,
    ciphertextHash: sha256Hex(ciphertext),
    ciphertext,
  };
  if (o.expiresAt !== undefined) a['expiresAt'] = o.expiresAt;
  if (o.revokedAt !== undefined) a['revokedAt'] = o.revokedAt;
  if (o.sign) Object.assign(a, signatureFields(o.sign, signingPayload(a as never)));
  o.mutate?.(a);
  return a;
}

export async function artifactJson(o: BuildOptions): Promise<string> {
  return JSON.stringify(await buildArtifact(o));
}

/** A typical two-namespace payload whose values are easy to grep for in logs. */
export function samplePayload(tag = 'S3CRET'): Record<string, Record<string, string>> {
  return {
    app: { DATABASE_URL: `postgres://user:${tag}-db@localhost/app`, API_KEY: `${tag}-api-key` },
    payments: { STRIPE_KEY: `${tag}-stripe`, API_KEY: `${tag}-payments-api-key` },
  };
}
