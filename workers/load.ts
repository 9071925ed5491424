/**
 * The `load` task: fetch → (identical bytes? unchanged) → validate (§4.3 1–7) → decrypt →
 * payload check (§4.3 8) → snapshot. Every step returns a tagged failure instead of throwing.
 */
import { createHash } from 'node:crypto';
import type { PackedArtifact } from '../common/artifact.js';
import type { ArtifactMeta, LoadResult, LoadTask, WorkerInit } from '../common/protocol.js';
import { decryptArtifact, decryptCiphertextFast, sharedAgeFile } from './decrypt/age.js';
import { fetchSource } from './fetch/index.js';
import type { HttpDeps } from './fetch/http.js';
import { dropKeyCache } from './keys.js';
import { buildSnapshot, parsePayload } from './payload.js';
import { fail } from './result.js';
import { dropVerifyKeyCache } from './signature.js';
import { validateArtifact } from './validate.js';

export async function load(task: LoadTask, init: WorkerInit, deps?: HttpDeps): Promise<LoadResult> {
  const fetched = await fetchSource(task.source, task.fetch, task.marker, deps);
  if ('ok' in fetched) return fetched;
  if (fetched.kind === 'unchanged') return { ok: true, outcome: 'unchanged', marker: fetched.marker };

  const bytesHash = createHash('sha256').update(fetched.bytes).digest('hex');
  if (task.bytesHash !== undefined && task.bytesHash === bytesHash) {
    return { ok: true, outcome: 'unchanged', marker: fetched.marker };
  }

  const v = validateArtifact(fetched.bytes, task.validation);
  if (!v.ok) return v;
  if (v.kind === 'revoked') {
    // "Drop every copy" includes this worker's key caches; the main thread recycles the pool
    // for the other workers.
    dropKeyCache();
    dropVerifyKeyCache();
    return { ok: true, outcome: 'revoked', revokedAt: v.revokedAt };
  }

  return task.mode === 'jit'
    ? verifyForJit(v.artifact, v.meta, init, fetched.marker, bytesHash)
    : decryptForCache(v.artifact, v.meta, init, fetched.marker, bytesHash);
}

/** Cached mode: decrypt, check the payload and lay out every response body in one arena. */
async function decryptForCache(
  artifact: PackedArtifact,
  meta: ArtifactMeta,
  init: WorkerInit,
  marker: string | undefined,
  bytesHash: string,
): Promise<LoadResult> {
  const plaintext = await decryptArtifact(artifact, init);
  if ('ok' in plaintext) return plaintext;
  try {
    const payload = parsePayload(plaintext);
    if ('ok' in payload) return payload;
    const snapshot = buildSnapshot(payload);
    return { ok: true, outcome: 'loaded', meta, snapshot, marker, bytesHash };
  } finally {
    // The arena now holds the only byte copy the agent keeps; wipe the decrypted buffer.
    plaintext.fill(0);
  }
}

/**
 * JIT mode: decrypt once to prove the key and the payload (so an artifact that cannot be served
 * never replaces one that can), wipe the plaintext, and hand back the still-encrypted age file.
 * The proving decryption goes through the fast path, which also warms this worker's header cache.
 */
async function verifyForJit(
  artifact: PackedArtifact,
  meta: ArtifactMeta,
  init: WorkerInit,
  marker: string | undefined,
  bytesHash: string,
): Promise<LoadResult> {
  if (artifact.envelope !== undefined) return fail('unsupported_encryption', 'KMS envelope artifacts are not supported yet');
  const ageFile = sharedAgeFile(artifact);
  if ('ok' in ageFile) return ageFile;
  const plaintext = await decryptCiphertextFast(artifact.ciphertextHash, ageFile, init);
  if ('ok' in plaintext) return plaintext;
  try {
    const payload = parsePayload(plaintext);
    if ('ok' in payload) return payload;
    const keyCount = payload.kind === 'flat' ? payload.keys.size : [...payload.namespaces.values()].reduce((n, m) => n + m.size, 0);
    return { ok: true, outcome: 'verified', meta, artifact: { ciphertextHash: artifact.ciphertextHash, ageFile }, keyCount, marker, bytesHash };
  } finally {
    plaintext.fill(0);
  }
}
