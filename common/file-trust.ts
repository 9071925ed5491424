/**
 * Who may write the files the agent trusts (SPEC §3 "Files the agent trusts", §4.4): the token
 * file, the age key file, the cache directory and every file read from it. One rule, used by the
 * start-up checks (src/config) and by the workers before each cache access:
 *
 * - the owner is the agent's effective user or root — another local user who could create or
 *   replace the file would choose the token, or plant an old artifact for the agent to load;
 * - neither group nor others may write it (mode & 0o022) — same reason, one step removed.
 *
 * A secret (token, age key) readable by group or others is only worth a warning, and not even that
 * when root owns it and the agent is not root: the agent cannot fix it, and that is how Kubernetes
 * mounts Secret volumes (root, 0644, reached through `..data` symlinks).
 */
import { constants } from 'node:fs';
import { lstat, open, type FileHandle } from 'node:fs/promises';

/** The owner and permission bits of a file, as `stat`/`lstat`/`fstat` report them. */
export interface OwnerMode {
  readonly uid: number;
  readonly mode: number;
}

/** The agent's effective uid; undefined where the platform has none (no ownership rule applies). */
export function agentUid(): number | undefined {
  return process.geteuid?.();
}

/** `0644`-style, for messages. */
export function formatMode(mode: number): string {
  return (mode & 0o7777).toString(8).padStart(4, '0');
}

/** Who may own a trusted file, for "expected …" texts. */
export function acceptedOwners(euid = agentUid()): string {
  return euid === undefined || euid === 0 ? 'root' : `uid ${euid} (the agent's user) or root`;
}

/**
 * Why `st` may not be trusted, as a phrase that follows the file's name ("is owned by uid 1001",
 * "is writable by group or others (mode 0666)"), or undefined when it may.
 */
export function untrustedReason(st: OwnerMode, euid = agentUid()): string | undefined {
  if (euid === undefined) return undefined;
  if (st.uid !== euid && st.uid !== 0) return `is owned by uid ${st.uid}, not by ${acceptedOwners(euid)}`;
  if ((st.mode & 0o022) !== 0) return `is writable by group or others (mode ${formatMode(st.mode)})`;
  return undefined;
}

/** A secret file whose contents group or others can read, and the agent's user could fix it. */
export function secretExposed(st: OwnerMode, euid = agentUid()): boolean {
  if ((st.mode & 0o044) === 0) return false;
  return !(st.uid === 0 && euid !== 0);
}

/** Thrown by the async checks below; `code` lets callers tell it from an I/O error. */
export class UntrustedFileError extends Error {
  readonly code = 'EUNTRUSTED';
}

/**
 * A directory the workers are about to read from or write to: lstat (a symlink swapped in is
 * refused, not followed), a real directory, trusted owner and mode. Rejects with
 * UntrustedFileError, or the lstat error (ENOENT when it is gone).
 */
export async function assertTrustedDir(dir: string, euid = agentUid()): Promise<void> {
  const st = await lstat(dir);
  if (st.isSymbolicLink()) throw new UntrustedFileError('is a symbolic link');
  if (!st.isDirectory()) throw new UntrustedFileError('is not a directory');
  const why = untrustedReason(st, euid);
  if (why !== undefined) throw new UntrustedFileError(why);
}

/**
 * Opens a file for reading without following a symlink at its name, and checks the open file
 * itself (fstat), so what is judged is what is read: a regular file, trusted owner and mode.
 * O_NONBLOCK keeps a FIFO planted at the name from hanging the reader.
 */
export async function openTrustedFile(path: string, euid = agentUid()): Promise<FileHandle> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new UntrustedFileError('is not a regular file');
    const why = untrustedReason(st, euid);
    if (why !== undefined) throw new UntrustedFileError(why);
    return fh;
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
}
