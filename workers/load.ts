/**
 * The `load` task: fetch → (identical bytes? unchanged) → validate (§4.3 1–7) → decrypt →
 * payload check (§4.3 8) → snapshot. Every step returns a tagged failure instead of throwing.
 */
import { createHash } from 'node:crypto';
import type { LoadResult, LoadTask, WorkerInit } from '../common/protocol.js';
import { decryptArtifact } from './decrypt/age.js';
import { fetchSource } from './fetch/index.js';
import type { HttpDeps } from './fetch/http.js';
import { dropKeyCache } from './keys.js';
import { buildSnapshot, parsePayload } from './payload.js';
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

  const plaintext = await decryptArtifact(v.artifact, init);
  if ('ok' in plaintext) return plaintext;
  try {
    const payload = parsePayload(plaintext);
    if ('ok' in payload) return payload;
    const snapshot = buildSnapshot(payload);
    return { ok: true, outcome: 'loaded', meta: v.meta, snapshot, marker: fetched.marker, bytesHash };
  } finally {
    // The arena now holds the only byte copy the agent keeps; wipe the decrypted buffer.
    plaintext.fill(0);
  }
}
