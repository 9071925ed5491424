/**
 * JIT `/v1/secrets` without re-serializing: when an artifact's plaintext already *is* the body.
 *
 * The `/v1/secrets` body is the payload as compact JSON in its key order (payload.ts
 * `writePayload`). `clef-agent pack` writes exactly that, so for most artifacts parsing the
 * plaintext and writing it out again reproduces it byte for byte — at a cost that grows with the
 * payload (≈ 4/5 of a 1000-key JIT request). A worker therefore proves it once per artifact: the
 * first request serializes as usual and compares; when the bytes match, later requests return the
 * decrypted plaintext itself as the body.
 *
 * Why the verdict can be reused: it is kept for one exact sealed artifact (its hash *and* a copy of
 * its still-encrypted bytes, compared on every use). Decryption is authenticated (age STREAM chunk
 * tags; AES-256-GCM), so the same sealed bytes under the same key can only decrypt to the same
 * plaintext or fail — and a failure never reaches this module. What is kept is the verdict and
 * ciphertext, never plaintext; a new artifact replaces the entry.
 */
import type { EncryptedArtifact } from '../common/protocol.js';

interface Verdict {
  readonly hash: string;
  /** The sealed bytes the verdict is for: age file, or KMS ciphertext + envelope. Not secret. */
  readonly sealed: Buffer;
  readonly canonical: boolean;
}

let verdict: Verdict | undefined;

/** `true` / `false` when this exact artifact was checked before; `undefined` when not known yet. */
export function knownCanonical(artifact: EncryptedArtifact): boolean | undefined {
  const v = verdict;
  if (v === undefined || v.hash !== artifact.ciphertextHash) return undefined;
  return sealedEquals(v.sealed, artifact) ? v.canonical : undefined;
}

/** Records whether the serialized body equalled the plaintext, for this exact artifact. */
export function rememberCanonical(artifact: EncryptedArtifact, plaintext: Uint8Array, body: Uint8Array): boolean {
  const canonical = Buffer.from(plaintext.buffer, plaintext.byteOffset, plaintext.byteLength).equals(body);
  verdict = { hash: artifact.ciphertextHash, sealed: Buffer.concat(sealedParts(artifact)), canonical };
  return canonical;
}

function sealedParts(a: EncryptedArtifact): Buffer[] {
  if (a.kms === undefined) return [view(a.ageFile)];
  // The envelope decides the data key (KMS Decrypt of wrappedKey) and the GCM iv/tag.
  return [view(a.kms.ciphertext), Buffer.from(JSON.stringify(a.kms.envelope), 'utf8')];
}

function sealedEquals(sealed: Buffer, a: EncryptedArtifact): boolean {
  const parts = sealedParts(a);
  let offset = 0;
  for (const p of parts) {
    if (offset + p.length > sealed.length || !p.equals(sealed.subarray(offset, offset + p.length))) return false;
    offset += p.length;
  }
  return offset === sealed.length;
}

function view(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}
