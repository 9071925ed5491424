/**
 * Signature verification (SPEC §2.2). The verify key's own type picks the algorithm — Ed25519 or
 * ECDSA P-256 with SHA-256 and a DER signature — and the artifact's `signatureAlgorithm` claim is
 * never consulted, so an attacker cannot downgrade or confuse the check.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { signingPayload, type PackedArtifact } from '../common/artifact.js';
import { KEY_CACHE_MAX } from '../common/limits.js';
import type { TaskFailure } from '../common/protocol.js';
import { taskFailure } from '../common/task-failure.js';

interface VerifyKey {
  readonly key: KeyObject;
  readonly type: 'ed25519' | 'p256';
}

/** KeyObjects by base64 SPKI. A worker sees one key in practice; the cap only bounds misuse. */
const keyCache = new Map<string, VerifyKey>();

export function dropVerifyKeyCache(): void {
  keyCache.clear();
}

// A flat character class, not a repeated group: a grouped `(?:….{4})*` backtracks through V8's
// regex stack and overflows on multi-megabyte ciphertexts.
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict standard base64 (Buffer.from would silently skip junk characters). */
export function decodeBase64Strict(s: string): Buffer | null {
  if (s.length % 4 !== 0 || !BASE64_CHARS.test(s)) return null;
  return Buffer.from(s, 'base64');
}

/** Parses `CLEF_AGENT_VERIFY_KEY` (base64 DER SubjectPublicKeyInfo) once per worker. */
function loadVerifyKey(b64: string): VerifyKey | TaskFailure {
  const hit = keyCache.get(b64);
  if (hit !== undefined) return hit;
  const der = decodeBase64Strict(b64.trim());
  let key: KeyObject;
  try {
    if (der === null) throw new Error('not base64');
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    return taskFailure('key_invalid', 'CLEF_AGENT_VERIFY_KEY is not a valid key: expected base64 DER SubjectPublicKeyInfo (Ed25519 or EC P-256)');
  }
  let type: VerifyKey['type'];
  if (key.asymmetricKeyType === 'ed25519') type = 'ed25519';
  else if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') type = 'p256';
  else {
    return taskFailure('key_invalid', `CLEF_AGENT_VERIFY_KEY has unsupported key type ${key.asymmetricKeyType ?? 'unknown'}: expected Ed25519 or EC P-256`);
  }
  if (keyCache.size >= KEY_CACHE_MAX) keyCache.clear();
  const vk: VerifyKey = { key, type };
  keyCache.set(b64, vk);
  return vk;
}

/** Step 6 of §4.3: `null` when the artifact's signature verifies under `verifyKeyB64`. */
export function checkSignature(artifact: PackedArtifact, verifyKeyB64: string): TaskFailure | null {
  const vk = loadVerifyKey(verifyKeyB64);
  if ('ok' in vk) return vk;
  if (artifact.signature === undefined) {
    return taskFailure('signature_missing', 'artifact is not signed but CLEF_AGENT_VERIFY_KEY is set');
  }
  const sig = decodeBase64Strict(artifact.signature);
  if (sig === null || sig.length === 0) {
    return taskFailure('signature_invalid', 'artifact signature is not valid base64');
  }
  const payload = signingPayload(artifact);
  let good = false;
  try {
    good = vk.type === 'ed25519' ? verify(null, payload, vk.key, sig) : verify('sha256', payload, { key: vk.key, dsaEncoding: 'der' }, sig);
  } catch {
    // Malformed DER or a wrong-length Ed25519 signature can throw instead of returning false.
    good = false;
  }
  if (!good) {
    const alg = vk.type === 'ed25519' ? 'Ed25519' : 'ECDSA P-256/SHA-256';
    return taskFailure('signature_invalid', `artifact signature does not verify (${alg}, per the verify key's type)`);
  }
  return null;
}
