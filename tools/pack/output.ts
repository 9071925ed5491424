/**
 * Where a finished artifact goes: a file written atomically, or a text stream. The agent may be
 * polling the very file being replaced (a file source, §3), so it must never see a half-written one.
 */

import { randomBytes } from 'node:crypto';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { PackError, fsReason } from './errors.js';

/** The part of a Writable that pack uses; process.stdout/stderr fit, and so do test collectors. */
export interface TextSink {
  write(chunk: string, callback: (err?: Error | null) => void): unknown;
}

/** Write and wait for the data to be handed off, so a caller that exits next does not cut it short. */
export function writeText(sink: TextSink, text: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    sink.write(text, (err) => (err ? reject(err) : resolvePromise()));
  });
}

/**
 * Temp file in the target's directory (so rename stays on one filesystem and is atomic), fsync,
 * rename over the target. Mode 0644: the content is encrypted, and the agent may run as another
 * user. fchmod makes the mode independent of the umask.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const target = resolve(path);
  const dir = dirname(target);
  const tmp = join(dir, `.${basename(target)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  let created = false;
  try {
    const fh = await open(tmp, 'wx', 0o644);
    created = true;
    try {
      await fh.chmod(0o644);
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, target);
    created = false;
    await syncDir(dir);
  } catch (err) {
    if (created) await unlink(tmp).catch(() => undefined);
    const code = err instanceof Error && 'code' in err ? err.code : undefined;
    // A path that cannot exist or be written is a bad --out value; anything else (disk full, I/O)
    // is a failure of the run.
    const badInput = code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EACCES' || code === 'EPERM';
    throw new PackError(`cannot write --out file ${path}: ${fsReason(err)}`, { exitCode: badInput ? 2 : 1 });
  }
}

/** Persist the rename itself; best effort, as some platforms cannot fsync a directory. */
async function syncDir(dir: string): Promise<void> {
  try {
    const fh = await open(dir, 'r');
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // not fatal: the data itself is already synced
  }
}
