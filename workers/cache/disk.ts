/**
 * The disk fallback cache (SPEC §4.4). Only the fetched, still-encrypted artifact bytes are written
 * — plaintext never reaches this module. Two files per source, in the directory chosen at start-up
 * (src/config/cache-dir.ts), each 0600:
 *
 *   <name>.artifact    the artifact bytes exactly as fetched
 *   <name>.meta.json   {"v":1,"fetchedAtMs","marker","sha256","size"}
 *
 * Each is written atomically (temp file, fsync, rename, then fsync of the directory). The meta
 * file names the artifact's SHA-256, so a torn pair (crash between the two renames), a truncated or
 * edited artifact file is detected and ignored. The directory and every file read are checked for
 * who could have written them (common/file-trust.ts): a copy another user could plant is never
 * loaded. Every failure here is a warning, never an error: the cache is an optimisation, and
 * serving must not depend on it.
 */
import { createHash } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { FUTURE_SKEW_MS, META_MAX_BYTES } from '../../common/limits.js';
import type { DiskCachePolicy, PurgeCacheResult } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import { errnoCode } from '../../common/display.js';
import { assertTrustedDir, openTrustedFile, UntrustedFileError } from '../../common/file-trust.js';
import { syncDir, writeFileAtomic } from '../../common/files.js';

export interface CachedCopy {
  readonly bytes: Uint8Array;
  readonly marker?: string | undefined;
  readonly fetchedAtMs: number;
  readonly sha256: string;
}

interface Meta {
  readonly v: 1;
  readonly fetchedAtMs: number;
  readonly marker?: string | undefined;
  readonly sha256: string;
  readonly size: number;
}

export function cacheFiles(dir: string, name: string): { readonly artifact: string; readonly meta: string } {
  return { artifact: join(dir, `${name}.artifact`), meta: join(dir, `${name}.meta.json`) };
}

/**
 * The directory was chosen and checked at start-up, but whoever can swap it later (a renamed
 * directory in a shared parent, a symlink) could plant files for us: it is checked again before
 * every access. A missing one is recreated 0700 for a write (non-recursive; then checked like any
 * other). A failing check is a warning and the cache is not used.
 */
async function checkDir(dir: string, create: boolean, warnings: string[]): Promise<boolean> {
  try {
    if (create)
      await mkdir(dir, { mode: 0o700 }).catch((err: unknown) => {
        if (errnoCode(err) !== 'EEXIST') throw err;
      });
    await assertTrustedDir(dir);
    return true;
  } catch (err) {
    if (!create && errnoCode(err) === 'ENOENT') return false;
    warnings.push(
      err instanceof UntrustedFileError
        ? `disk cache ${dir} ${err.message}; not used (expected a directory owned by the agent's user or root that group and others cannot write)`
        : `disk cache ${dir} cannot be used (${errnoCode(err) ?? 'error'}); continuing without it`,
    );
    return false;
  }
}

/** Writes the artifact and its meta atomically. Failures become warnings. */
export async function writeCache(p: DiskCachePolicy, bytes: Uint8Array, marker: string | undefined, nowMs: number, warnings: string[]): Promise<void> {
  if (!(await checkDir(p.dir, true, warnings))) return;
  const files = cacheFiles(p.dir, p.name);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const meta: Meta = { v: 1, fetchedAtMs: nowMs, marker, sha256, size: bytes.byteLength };
  try {
    await writeFileAtomic(files.artifact, bytes, 0o600);
    await writeFileAtomic(files.meta, JSON.stringify(meta), 0o600);
    await syncDir(p.dir);
  } catch (err) {
    warnings.push(`disk cache ${p.dir} is not writable (${errnoCode(err) ?? 'error'}); serving continues without a fresh disk copy`);
  }
}

/**
 * The source confirmed the cached artifact is current (304 or identical bytes): record the new
 * fetch time, so after a restart the copy's age is the time since the last successful refresh.
 * Only when the cache holds exactly `sha256`, and at most every tenth of the allowed age (a poll
 * every few seconds must not mean an fsync every few seconds).
 */
export async function touchCache(p: DiskCachePolicy, sha256: string, marker: string | undefined, nowMs: number, warnings: string[]): Promise<void> {
  if (!(await checkDir(p.dir, false, warnings))) return;
  const files = cacheFiles(p.dir, p.name);
  const meta = await readMeta(files.meta).catch(() => undefined);
  if (meta === undefined || meta.sha256 !== sha256) return;
  if (nowMs - meta.fetchedAtMs < p.maxAgeMs / 10 && meta.marker === marker) return;
  try {
    await writeFileAtomic(files.meta, JSON.stringify({ ...meta, fetchedAtMs: nowMs, marker: marker ?? meta.marker }), 0o600);
    await syncDir(p.dir);
  } catch (err) {
    warnings.push(`disk cache ${p.dir} is not writable (${errnoCode(err) ?? 'error'}); its fetch time was not updated`);
  }
}

export type ReadOutcome = { readonly copy: CachedCopy } | { readonly none: true };

/**
 * The cached copy when there is a usable one. Missing → none, silently. Unreadable, torn or
 * malformed → none with a warning (the files are left for inspection; the next good load replaces
 * them). Age is judged by the caller, which knows whether the artifact is a KMS one.
 */
export async function readCache(p: DiskCachePolicy, maxBytes: number, nowMs: number, warnings: string[]): Promise<ReadOutcome> {
  if (!(await checkDir(p.dir, false, warnings))) return { none: true };
  const files = cacheFiles(p.dir, p.name);
  let meta: Meta;
  try {
    meta = await readMeta(files.meta);
  } catch (err) {
    if (err instanceof UntrustedFileError) warnings.push(untrusted(files.meta, err));
    else if (errnoCode(err) !== 'ENOENT') warnings.push(`disk cache ${files.meta} is unreadable or corrupted (${describe(err)}); ignored`);
    return { none: true };
  }
  if (meta.fetchedAtMs > nowMs + FUTURE_SKEW_MS) {
    warnings.push(`disk cache ${files.meta} has a fetch time in the future; ignored`);
    return { none: true };
  }
  let bytes: Uint8Array;
  try {
    bytes = await readRegular(files.artifact, Math.min(maxBytes, meta.size));
  } catch (err) {
    warnings.push(
      err instanceof UntrustedFileError ? untrusted(files.artifact, err) : `disk cache ${files.artifact} is unreadable (${describe(err)}); ignored`,
    );
    return { none: true };
  }
  if (bytes.byteLength !== meta.size || createHash('sha256').update(bytes).digest('hex') !== meta.sha256) {
    warnings.push(`disk cache ${files.artifact} is truncated or corrupted (it does not match its recorded SHA-256); ignored`);
    return { none: true };
  }
  return { copy: { bytes, marker: meta.marker, fetchedAtMs: meta.fetchedAtMs, sha256: meta.sha256 } };
}

/** Removes both files (revocation, expiry, too old). Missing files are fine; a failure says why by code only. */
export async function purgeCache(dir: string, name: string): Promise<PurgeCacheResult> {
  const why = await assertTrustedDir(dir).then(
    () => undefined,
    (err: unknown) =>
      errnoCode(err) === 'ENOENT' ? 'gone' : err instanceof UntrustedFileError ? err.message : `cannot be inspected (${errnoCode(err) ?? 'error'})`,
  );
  if (why === 'gone') return { ok: true };
  // Removing files from a directory someone swapped in would act on their files, not ours.
  if (why !== undefined) return taskFailure('internal', `disk cache ${dir} ${why}; not purged`);
  const files = cacheFiles(dir, name);
  try {
    await Promise.all([rm(files.artifact, { force: true }), rm(files.meta, { force: true })]);
  } catch (err) {
    return taskFailure('internal', `disk cache could not be purged (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  await syncDir(dir).catch(() => undefined);
  return { ok: true };
}

async function readMeta(path: string): Promise<Meta> {
  const raw = Buffer.from(await readRegular(path, META_MAX_BYTES)).toString('utf8');
  const m = JSON.parse(raw) as Partial<Meta> | null;
  const ok =
    m !== null &&
    typeof m === 'object' &&
    m.v === 1 &&
    typeof m.fetchedAtMs === 'number' &&
    Number.isFinite(m.fetchedAtMs) &&
    typeof m.sha256 === 'string' &&
    /^[0-9a-f]{64}$/.test(m.sha256) &&
    typeof m.size === 'number' &&
    Number.isInteger(m.size) &&
    m.size >= 0 &&
    (m.marker === undefined || typeof m.marker === 'string');
  if (!ok) throw Object.assign(new Error('malformed meta'), { code: 'EBADMETA' });
  return m as Meta;
}

/**
 * Reads a regular file owned by the agent's user or root that group and others cannot write (no
 * symlink followed, the open file itself checked), refusing more than `cap` bytes.
 */
async function readRegular(path: string, cap: number): Promise<Uint8Array> {
  const fh = await openTrustedFile(path);
  try {
    const st = await fh.stat();
    if (st.size > cap) throw Object.assign(new Error('larger than expected'), { code: 'ETOOBIG' });
    const buf = Buffer.alloc(st.size);
    let total = 0;
    while (total < st.size) {
      const { bytesRead } = await fh.read(buf, total, st.size - total, total);
      if (bytesRead === 0) break;
      total += bytesRead;
    }
    return buf.subarray(0, total);
  } finally {
    await fh.close().catch(() => undefined);
  }
}

function untrusted(path: string, err: UntrustedFileError): string {
  return `disk cache ${path} ${err.message}; not loaded (expected a regular file owned by the agent's user or root that group and others cannot write)`;
}

function describe(err: unknown): string {
  return errnoCode(err) ?? (err instanceof SyntaxError ? 'invalid JSON' : 'error');
}
