/**
 * Durable file replacement, shared by the workers' disk cache and `clef-agent pack --out`: a
 * reader (the agent polling a file source, or the next start reading its cache) sees the old file
 * or the new one, never a half-written one.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Writes `data` to a temp file in the target's directory (so the rename stays on one filesystem and
 * is atomic), fsyncs it, and renames it over `path`. The temp file is created exclusively ('wx'),
 * so a planted file or symlink at its name is never written through, and gets `mode` whatever the
 * umask. On failure the temp file is removed and the error rethrown. The directory is not synced:
 * call `syncDir` once the last rename of a batch is done.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(tmp, 'wx', mode);
  try {
    try {
      await fh.chmod(mode);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** fsyncs a directory, which makes the renames and removals in it durable. */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await fh.sync();
  } finally {
    await fh.close().catch(() => undefined);
  }
}
