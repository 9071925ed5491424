/**
 * The packed artifact wire format, version 1 (SPEC §2): its TypeScript shape and the exact bytes
 * that get signed (§2.2). Imported by the workers (validation) and by `clef-agent pack`.
 */

export interface Envelope {
  readonly provider: string;
  readonly keyId: string;
  readonly wrappedKey: string;
  readonly algorithm: string;
  readonly iv: string;
  readonly authTag: string;
}

/** A shape-checked artifact. Unknown extra fields are ignored (and dropped by the shape check). */
export interface PackedArtifact {
  readonly version: 1;
  readonly identity: string;
  readonly environment: string;
  readonly packedAt: string;
  readonly revision: string;
  readonly ciphertextHash: string;
  readonly ciphertext: string;
  readonly envelope?: Envelope | undefined;
  readonly expiresAt?: string | undefined;
  readonly revokedAt?: string | undefined;
  readonly signature?: string | undefined;
  readonly signatureAlgorithm?: string | undefined;
}

/** Every field of the SPEC §2 table, in its order: the order `pack` writes them in. */
export const ARTIFACT_FIELDS = [
  'version',
  'identity',
  'environment',
  'packedAt',
  'revision',
  'ciphertextHash',
  'ciphertext',
  'envelope',
  'expiresAt',
  'revokedAt',
  'signature',
  'signatureAlgorithm',
] as const satisfies readonly (keyof PackedArtifact)[];

export const SIGNING_PREFIX = 'clef-sig-v3';

/**
 * The signing payload of §2.2: 14 lines joined with `\n`, no trailing newline, an absent optional
 * value written as the empty string. Returned as UTF-8 bytes.
 */
export function signingPayload(a: Omit<PackedArtifact, 'ciphertext' | 'signature' | 'signatureAlgorithm' | 'revokedAt'>): Buffer {
  const e = a.envelope;
  const lines = [
    SIGNING_PREFIX,
    String(a.version),
    a.identity,
    a.environment,
    a.revision,
    a.packedAt,
    a.ciphertextHash,
    a.expiresAt ?? '',
    e?.provider ?? '',
    e?.keyId ?? '',
    e?.wrappedKey ?? '',
    e?.algorithm ?? '',
    e?.iv ?? '',
    e?.authTag ?? '',
  ];
  return Buffer.from(lines.join('\n'), 'utf8');
}

/** Qualified key name (SPEC §2.1): `<namespace>__<KEY>`, or the bare key for flat payloads. */
export function qualifiedName(namespace: string | null, key: string): string {
  return namespace === null ? key : `${namespace}__${key}`;
}
