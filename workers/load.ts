/**
 * The `load` task: fetch → (identical bytes? unchanged) → validate (§4.3 1–7) → decrypt →
 * payload check (§4.3 8) → snapshot. Every step returns a tagged failure instead of throwing.
 */
import { createHash } from 'node:crypto';
import type { PackedArtifact } from '../common/artifact.js';
import type { Payload } from '../common/payload.js';
import type { ArtifactMeta, EncryptedArtifact, LoadResult, LoadTask, TaskFailure, TelemetryCredentials, WorkerInit } from '../common/protocol.js';
import { decryptArtifact, decryptCiphertextFast, sharedAgeFile } from './decrypt/age.js';
import { decryptKmsArtifact, openKms, sealKms } from './decrypt/kms.js';
import { withDiskCache } from './cache/fallback.js';
import { fetchSource, type FetchDeps } from './fetch/index.js';
import { dropKeyCache } from './keys.js';
import { buildSnapshot, parsePayload } from './payload.js';
import { dropVerifyKeyCache } from './signature.js';
import { validateArtifact } from './validate.js';

export async function load(task: LoadTask, init: WorkerInit, deps?: FetchDeps): Promise<LoadResult> {
  const fetched = await fetchSource(task.source, task.fetch, task.marker, deps);
  // With CLEF_AGENT_CACHE_PATH: write after validation, fall back on failure, purge on revocation
  // and expiry (SPEC §4.4). The validation path is the same function either way.
  if (task.diskCache !== undefined) {
    return withDiskCache(task, task.diskCache, fetched, (bytes, marker, bytesHash) => loadBytes(task, init, bytes, marker, bytesHash));
  }
  if ('ok' in fetched) return fetched;
  if (fetched.kind === 'unchanged') return { ok: true, outcome: 'unchanged', marker: fetched.marker };

  const bytesHash = createHash('sha256').update(fetched.bytes).digest('hex');
  if (task.bytesHash !== undefined && task.bytesHash === bytesHash) {
    return { ok: true, outcome: 'unchanged', marker: fetched.marker };
  }
  return loadBytes(task, init, fetched.bytes, fetched.marker, bytesHash);
}

/** Validate (§4.3 1–7), then decrypt and check the payload: for fetched bytes and disk-cached ones alike. */
export async function loadBytes(task: LoadTask, init: WorkerInit, bytes: Uint8Array, marker: string | undefined, bytesHash: string): Promise<LoadResult> {
  const v = validateArtifact(bytes, task.validation);
  if (!v.ok) return v;
  if (v.kind === 'revoked') {
    // "Drop every copy" includes this worker's key caches; the main thread recycles the pool
    // for the other workers.
    dropKeyCache();
    dropVerifyKeyCache();
    return { ok: true, outcome: 'revoked', revokedAt: v.revokedAt };
  }

  const validated: Validated = { artifact: v.artifact, meta: v.meta, marker, bytesHash };
  return task.mode === 'jit'
    ? verifyForJit(validated, init, task.telemetryCredentials === true)
    : decryptForCache(validated, init, task.telemetryCredentials === true);
}

/** What a validated artifact carries into decryption, and back out in the result. */
interface Validated {
  readonly artifact: PackedArtifact;
  readonly meta: ArtifactMeta;
  /** The source's change marker (ETag), sent as `If-None-Match` on the next poll. */
  readonly marker: string | undefined;
  /** SHA-256 of the fetched bytes: an identical refetch is `unchanged` without validating. */
  readonly bytesHash: string;
}

/** Cached mode: decrypt, check the payload and lay out every response body in one arena. */
async function decryptForCache(v: Validated, init: WorkerInit, wantCredentials: boolean): Promise<LoadResult> {
  const { artifact, meta, marker, bytesHash } = v;
  // One KMS call per new revision for envelope artifacts; an unchanged one never gets here.
  const plaintext = artifact.envelope !== undefined ? await decryptKmsArtifact(artifact) : await decryptArtifact(artifact, init);
  if ('ok' in plaintext) return plaintext;
  try {
    const payload = parsePayload(plaintext, init.maxKeys);
    if ('ok' in payload) return payload;
    const snapshot = buildSnapshot(payload);
    return { ok: true, outcome: 'loaded', meta, snapshot, marker, bytesHash, telemetry: wantCredentials ? telemetryCredentials(payload) : undefined };
  } finally {
    // The arena now holds the only byte copy the agent keeps; wipe the decrypted buffer.
    plaintext.fill(0);
  }
}

/**
 * JIT mode: decrypt once to prove the key and the payload (so an artifact that cannot be served
 * never replaces one that can), wipe the plaintext, and hand back the still-encrypted age file.
 * The proving decryption goes through the fast path, which also warms this worker's header cache.
 * KMS envelope artifacts: one KMS call proves access; the envelope is kept (the data key is not),
 * so every request calls KMS again (SPEC §5.2).
 */
async function verifyForJit(v: Validated, init: WorkerInit, wantCredentials: boolean): Promise<LoadResult> {
  const { artifact, meta, marker, bytesHash } = v;
  let kept: EncryptedArtifact;
  let plaintext: Uint8Array | TaskFailure;
  if (artifact.envelope !== undefined) {
    const kms = sealKms(artifact, { shared: true });
    if ('ok' in kms) return kms;
    kept = { ciphertextHash: artifact.ciphertextHash, ageFile: new Uint8Array(0), kms };
    plaintext = await openKms(kms);
  } else {
    const ageFile = await sharedAgeFile(artifact);
    if ('ok' in ageFile) return ageFile;
    kept = { ciphertextHash: artifact.ciphertextHash, ageFile };
    plaintext = await decryptCiphertextFast(artifact.ciphertextHash, ageFile, init);
  }
  if ('ok' in plaintext) return plaintext;
  try {
    const payload = parsePayload(plaintext, init.maxKeys);
    if ('ok' in payload) return payload;
    const keyCount = payload.kind === 'flat' ? payload.keys.size : [...payload.namespaces.values()].reduce((n, m) => n + m.size, 0);
    return {
      ok: true,
      outcome: 'verified',
      meta,
      artifact: kept,
      keyCount,
      marker,
      bytesHash,
      telemetry: wantCredentials ? telemetryCredentials(payload) : undefined,
    };
  } finally {
    plaintext.fill(0);
  }
}

/** A key's value when it is flat or in exactly one namespace (the bare-key rule of the API). */
function bareValue(payload: Payload, key: string): string | undefined {
  if (payload.kind === 'flat') return payload.keys.get(key);
  let found: string | undefined;
  let count = 0;
  for (const keys of payload.namespaces.values()) {
    const v = keys.get(key);
    if (v === undefined) continue;
    found = v;
    count++;
  }
  return count === 1 ? found : undefined;
}

function telemetryCredentials(payload: Payload): TelemetryCredentials | undefined {
  const headers = bareValue(payload, 'CLEF_TELEMETRY_HEADERS');
  const token = bareValue(payload, 'CLEF_TELEMETRY_TOKEN');
  return headers === undefined && token === undefined ? undefined : { headers, token };
}
