/**
 * Artifact validation, SPEC §4.3 steps 1–7, as a pure function: one small function per step, run
 * in the order the spec fixes. The order matters: revocation is honoured before anything else can
 * fail (the kill switch must work even on a malformed artifact), and the cheap, unauthenticated
 * checks never let an unsigned artifact skip the signature check.
 * Step 8 (decrypt + payload) needs the key and lives in `load.ts`.
 */
import { createHash } from 'node:crypto';
import type { Envelope, PackedArtifact } from '../common/artifact.js';
import type { ArtifactMeta, TaskFailure, ValidationPolicy } from '../common/protocol.js';
import { taskFailure } from '../common/task-failure.js';
import { quote } from '../common/display.js';
import { isPlainObject, parseJsonBytes } from '../common/json.js';
import { parseIsoDate } from '../common/iso-date.js';
import { hasControlChars } from '../common/text.js';
import { PACKED_AT_MAX_AHEAD_MS } from '../common/limits.js';
import { checkSignature, decodeBase64Strict } from './signature.js';

export type ValidationResult =
  | TaskFailure
  | { readonly ok: true; readonly kind: 'revoked'; readonly revokedAt: string }
  | { readonly ok: true; readonly kind: 'valid'; readonly artifact: PackedArtifact; readonly meta: ArtifactMeta };

type Json = Record<string, unknown>;

export function validateArtifact(bytes: Uint8Array, policy: ValidationPolicy): ValidationResult {
  const parsed = parseJson(bytes);
  if ('ok' in parsed) return parsed;
  const revoked = checkRevoked(parsed.value);
  if (revoked !== null) return revoked;
  const artifact = checkShape(parsed.value);
  if ('ok' in artifact) return artifact;
  const failure =
    checkIdentity(artifact, policy) ??
    checkExpiry(artifact, policy.nowMs) ??
    checkIntegrity(artifact) ??
    (policy.verifyKey !== undefined ? checkSignature(artifact, policy.verifyKey) : null) ??
    checkPackedAtAhead(artifact, policy.nowMs) ??
    checkRollback(artifact, policy.servingPackedAt);
  if (failure !== null) return failure;
  return { ok: true, kind: 'valid', artifact, meta: metaOf(artifact, { signed: policy.verifyKey !== undefined }) };
}

/** Step 1a. UTF-8 (a BOM is tolerated) then JSON. */
function parseJson(bytes: Uint8Array): { value: unknown } | TaskFailure {
  return parseJsonBytes(bytes) ?? taskFailure('invalid_json', 'artifact is not valid UTF-8 JSON');
}

/** Step 1b. Any object carrying `revokedAt`, whatever else it holds, is a kill signal. */
function checkRevoked(value: unknown): ValidationResult | null {
  if (!isPlainObject(value) || !Object.hasOwn(value, 'revokedAt')) return null;
  const v = value['revokedAt'];
  return { ok: true, kind: 'revoked', revokedAt: typeof v === 'string' ? v.slice(0, 100) : quote(v, 100) };
}

const HEX64 = /^[0-9a-f]{64}$/;
const REQUIRED = ['identity', 'environment', 'packedAt', 'revision', 'ciphertextHash', 'ciphertext'] as const;
const OPTIONAL = ['expiresAt', 'signature', 'signatureAlgorithm'] as const;
/** The string fields that are lines of the signing payload (SPEC §2.2); `envelope.*` are checked with the envelope. */
const SIGNED = ['identity', 'environment', 'revision', 'packedAt', 'ciphertextHash', 'expiresAt'] as const;
const ENVELOPE_FIELDS = ['provider', 'keyId', 'wrappedKey', 'algorithm', 'iv', 'authTag'] as const;

/** Step 2. The §2 table; unknown fields are dropped so nothing downstream can depend on them. */
function checkShape(value: unknown): PackedArtifact | TaskFailure {
  if (!isPlainObject(value)) return shape('the artifact must be a JSON object');
  if (!Object.hasOwn(value, 'version')) return shape('version is missing: expected the number 1');
  if (value['version'] !== 1) {
    return taskFailure('unsupported_version', `unsupported artifact version ${quote(value['version'])}: only version 1 is accepted`);
  }
  for (const f of REQUIRED) {
    const v = value[f];
    if (typeof v !== 'string' || v === '') return shape(`${f} must be a non-empty string`);
  }
  for (const f of OPTIONAL) {
    if (Object.hasOwn(value, f) && typeof value[f] !== 'string') return shape(`${f} must be a string when present`);
  }
  for (const f of SIGNED) {
    const v = value[f];
    if (typeof v === 'string' && hasControlChars(v))
      return shape(`${f} contains a control character (newlines and other control characters are refused in signed fields)`);
  }
  const s = value as Json & Record<(typeof REQUIRED)[number], string>;
  if (!HEX64.test(s.ciphertextHash)) return shape('ciphertextHash must be 64 lowercase hex characters (SHA-256)');
  if (decodeBase64Strict(s.ciphertext) === null) return shape('ciphertext must be standard base64 (A–Z a–z 0–9 + / with = padding)');
  if (parseIsoDate(s.packedAt) === null) return shape(`packedAt must be an ISO-8601 date-time with a time zone, e.g. 2025-01-31T12:00:00Z`);
  const expiresAt = value['expiresAt'] as string | undefined;
  if (expiresAt !== undefined && parseIsoDate(expiresAt) === null) {
    return shape('expiresAt must be an ISO-8601 date-time with a time zone, e.g. 2025-01-31T12:00:00Z');
  }
  let envelope: Envelope | undefined;
  if (Object.hasOwn(value, 'envelope')) {
    const e = checkEnvelope(value['envelope']);
    if ('ok' in e) return e;
    envelope = e;
  }
  return {
    version: 1,
    identity: s.identity,
    environment: s.environment,
    packedAt: s.packedAt,
    revision: s.revision,
    ciphertextHash: s.ciphertextHash,
    ciphertext: s.ciphertext,
    envelope,
    expiresAt,
    signature: value['signature'] as string | undefined,
    signatureAlgorithm: value['signatureAlgorithm'] as string | undefined,
  };
}

function checkEnvelope(e: unknown): Envelope | TaskFailure {
  if (!isPlainObject(e)) return shape('envelope must be an object when present');
  for (const f of ENVELOPE_FIELDS) {
    const v = e[f];
    if (typeof v !== 'string' || v === '') return shape(`envelope.${f} must be a non-empty string`);
    if (hasControlChars(v)) return shape(`envelope.${f} contains a control character (newlines and other control characters are refused in signed fields)`);
  }
  const r = e as Record<(typeof ENVELOPE_FIELDS)[number], string>;
  return { provider: r.provider, keyId: r.keyId, wrappedKey: r.wrappedKey, algorithm: r.algorithm, iv: r.iv, authTag: r.authTag };
}

/** Step 3. Identity and environment are names, not secrets: quoting them helps the operator. */
function checkIdentity(a: PackedArtifact, p: ValidationPolicy): TaskFailure | null {
  if (p.expectIdentity !== undefined && a.identity !== p.expectIdentity) {
    return taskFailure('identity_mismatch', `artifact is for identity ${quote(a.identity, 80)}, expected ${quote(p.expectIdentity, 80)}`);
  }
  if (p.expectEnvironment !== undefined && a.environment !== p.expectEnvironment) {
    return taskFailure('identity_mismatch', `artifact is for environment ${quote(a.environment, 80)}, expected ${quote(p.expectEnvironment, 80)}`);
  }
  return null;
}

/** Step 4. Expired at the instant itself (`≤`), judged on the caller's clock. */
function checkExpiry(a: PackedArtifact, nowMs: number): TaskFailure | null {
  if (a.expiresAt === undefined) return null;
  const exp = parseIsoDate(a.expiresAt) ?? Number.NEGATIVE_INFINITY;
  return exp <= nowMs ? taskFailure('expired', `artifact expired at ${a.expiresAt}`) : null;
}

/** Step 5. The hash covers the base64 text itself, not the decoded bytes (SPEC §2). */
function checkIntegrity(a: PackedArtifact): TaskFailure | null {
  const actual = createHash('sha256').update(a.ciphertext, 'utf8').digest('hex');
  return actual === a.ciphertextHash ? null : taskFailure('integrity', 'ciphertextHash does not match the ciphertext (corrupted or tampered artifact)');
}

/**
 * Step 7a. A `packedAt` far ahead of the clock would become the rollback floor and refuse every
 * normal artifact after it; judged on the caller's clock, like expiry.
 */
function checkPackedAtAhead(a: PackedArtifact, nowMs: number): TaskFailure | null {
  const packed = parseIsoDate(a.packedAt);
  if (packed === null || packed <= nowMs + PACKED_AT_MAX_AHEAD_MS) return null;
  return taskFailure(
    'clock_skew',
    `artifact packedAt ${a.packedAt} is more than ${PACKED_AT_MAX_AHEAD_MS / 60_000} minutes ahead of this host's clock (${new Date(nowMs).toISOString()}); check both clocks`,
  );
}

/** Step 7b. Strictly older than the served artifact is a rollback; the same instant is not. */
function checkRollback(a: PackedArtifact, servingPackedAt: string | undefined): TaskFailure | null {
  if (servingPackedAt === undefined) return null;
  const serving = parseIsoDate(servingPackedAt);
  const packed = parseIsoDate(a.packedAt);
  if (serving === null || packed === null || packed >= serving) return null;
  return taskFailure('rollback', `artifact packedAt ${a.packedAt} is older than the served artifact's ${servingPackedAt}`);
}

function metaOf(a: PackedArtifact, { signed }: { readonly signed: boolean }): ArtifactMeta {
  const expiresAtMs = a.expiresAt === undefined ? undefined : (parseIsoDate(a.expiresAt) ?? undefined);
  return {
    identity: a.identity,
    environment: a.environment,
    revision: a.revision,
    packedAt: a.packedAt,
    packedAtMs: parseIsoDate(a.packedAt) ?? 0,
    expiresAt: a.expiresAt,
    expiresAtMs,
    ciphertextHash: a.ciphertextHash,
    signed,
    encryption: a.envelope !== undefined ? 'kms' : 'age',
  };
}

function shape(what: string): TaskFailure {
  return taskFailure('invalid_shape', `invalid artifact: ${what}`);
}
