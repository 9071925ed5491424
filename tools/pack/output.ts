/**
 * Where a finished artifact goes: a file written atomically, or a text stream. The agent may be
 * polling the very file being replaced (a file source, §3), so it must never see a half-written one.
 */

import { dirname, resolve } from 'node:path';
import { errnoCode } from '../../common/display.js';
import { syncDir, writeFileAtomic } from '../../common/files.js';
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
 * The artifact written atomically (common/files.ts) with mode 0644: the content is encrypted, and
 * the agent may run as another user.
 */
export async function writeArtifactFile(path: string, text: string): Promise<void> {
  const target = resolve(path);
  try {
    await writeFileAtomic(target, text, 0o644);
  } catch (err) {
    const code = errnoCode(err);
    // A path that cannot exist or be written is a bad --out value; anything else (disk full, I/O)
    // is a failure of the run.
    const badInput = code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EACCES' || code === 'EPERM';
    throw new PackError(`cannot write --out file ${path}: ${fsReason(err)}`, { exitCode: badInput ? 2 : 1 });
  }
  // Persist the rename itself; best effort, as some platforms cannot fsync a directory, and the
  // data itself is already synced.
  await syncDir(dirname(target)).catch(() => undefined);
}
