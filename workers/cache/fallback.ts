/**
 * The disk cache around one load (SPEC §4.4):
 * - a fetched artifact that passed validation (and decryption) is written, still encrypted;
 * - an unchanged answer refreshes the copy's fetch time;
 * - revocation and expiry purge the copy;
 * - when the source fails, or returns an artifact that is rejected, a copy younger than the allowed
 *   age (any age for a KMS artifact in JIT mode) is validated in full again and served instead.
 *
 * A copy identical to what the agent already serves adds nothing and is not reloaded: the failure
 * is reported as is, so the serving TTL keeps running from the last successful refresh.
 */
import { createHash } from 'node:crypto';
import type { DiskCachePolicy, LoadResult, LoadTask, TaskFailure } from '../../common/protocol.js';
import type { FetchOutcome } from '../fetch/types.js';
import { purgeCache, readCache, touchCache, writeCache } from './disk.js';

export type LoadBytes = (bytes: Uint8Array, marker: string | undefined, bytesHash: string) => Promise<LoadResult>;

export async function withDiskCache(task: LoadTask, dc: DiskCachePolicy, fetched: FetchOutcome | TaskFailure, loadBytes: LoadBytes): Promise<LoadResult> {
  const warnings: string[] = [];
  const nowMs = task.validation.nowMs;
  let result: LoadResult;
  if ('ok' in fetched) {
    result = await fallback(task, dc, fetched, loadBytes, warnings);
  } else if (fetched.kind === 'unchanged') {
    if (task.bytesHash !== undefined) await touchCache(dc, task.bytesHash, fetched.marker, nowMs, warnings);
    result = { ok: true, outcome: 'unchanged', marker: fetched.marker };
  } else {
    const bytesHash = createHash('sha256').update(fetched.bytes).digest('hex');
    if (task.bytesHash !== undefined && task.bytesHash === bytesHash) {
      await touchCache(dc, bytesHash, fetched.marker, nowMs, warnings);
      result = { ok: true, outcome: 'unchanged', marker: fetched.marker };
    } else {
      result = await loadBytes(fetched.bytes, fetched.marker, bytesHash);
      if (result.ok && (result.outcome === 'loaded' || result.outcome === 'verified')) {
        await writeCache(dc, fetched.bytes, fetched.marker, nowMs, warnings);
      } else if ((result.ok && result.outcome === 'revoked') || (!result.ok && result.code === 'expired')) {
        await purge(dc, warnings);
      } else if (!result.ok) {
        result = await fallback(task, dc, result, loadBytes, warnings);
      }
    }
  }
  return warnings.length === 0 ? result : { ...result, cache: { ...result.cache, warnings } };
}

async function fallback(task: LoadTask, dc: DiskCachePolicy, failure: TaskFailure, loadBytes: LoadBytes, warnings: string[]): Promise<LoadResult> {
  const nowMs = task.validation.nowMs;
  const read = await readCache(dc, task.fetch.maxBytes, nowMs, warnings);
  if ('none' in read) return failure;
  const { copy } = read;
  if (copy.sha256 === task.bytesHash) return failure;
  const ageMs = Math.max(0, nowMs - copy.fetchedAtMs);
  if (ageMs > dc.maxAgeMs && !(dc.kmsAnyAge && hasEnvelope(copy.bytes))) {
    await purge(dc, warnings);
    warnings.push(`disk cache copy is ${Math.round(ageMs / 1000)} s old, older than the ${Math.round(dc.maxAgeMs / 1000)} s allowed; ignored and purged`);
    return failure;
  }
  const r = await loadBytes(copy.bytes, copy.marker, copy.sha256);
  if (r.ok && (r.outcome === 'loaded' || r.outcome === 'verified')) {
    return { ...r, cache: { fromDisk: { fetchedAtMs: copy.fetchedAtMs, sourceFailure: failure } } };
  }
  if (!r.ok && r.code === 'expired') {
    await purge(dc, warnings);
    warnings.push('disk cache copy is past its expiresAt; purged');
  } else if (!r.ok) {
    warnings.push(`disk cache copy was rejected (${r.code}: ${r.message}); ignored`);
  } else if (r.outcome === 'revoked') {
    // Never written by this agent (only validated artifacts are), so someone put it there.
    await purge(dc, warnings);
  }
  return failure;
}

async function purge(dc: DiskCachePolicy, warnings: string[]): Promise<void> {
  const r = await purgeCache(dc.dir, dc.name).catch((err: unknown) => {
    warnings.push(`disk cache ${dc.dir} could not be purged (${err instanceof Error ? err.message.slice(0, 120) : 'error'})`);
  });
  if (r !== undefined && !r.ok) warnings.push(r.message);
}

/** KMS artifacts carry an `envelope` object (SPEC §2). Anything unparsable is treated as age. */
function hasEnvelope(bytes: Uint8Array): boolean {
  try {
    const a = JSON.parse(Buffer.from(bytes).toString('utf8')) as { envelope?: unknown } | null;
    return a !== null && typeof a === 'object' && typeof a.envelope === 'object' && a.envelope !== null;
  } catch {
    return false;
  }
}
