/**
 * Binding the secrets API to a Unix domain socket (SPEC §10.4) without trusting the path:
 *
 * - the directory must belong to the agent's user or root (its owner could swap the socket for
 *   their own at any time and collect the tokens clients send); one that group or others may write
 *   without the sticky bit is allowed with a warning, because that is what a Kubernetes `emptyDir`
 *   shared between containers is (0777, or 2777 with `fsGroup`);
 * - a symbolic link at the path is refused, never followed; so is anything that is not a socket;
 * - a socket already there is replaced only when a connect to it is refused (its listener is gone);
 *   a live one refuses the start, and so does one we cannot probe (EACCES, a timeout);
 * - the socket is never reachable with more permissions than asked: it is bound under a temporary
 *   name in a fresh 0700 directory next to the path, where no one else can reach or swap it,
 *   chmod-ed there (chmod follows links: never on a name someone else can write), then hard-linked
 *   into place, which fails rather than replaces if something appeared at the path meanwhile;
 * - on a clean stop the file is removed, and only if it is still the one we made.
 */
import { chmodSync, linkSync, lstatSync, mkdtempSync, renameSync, rmdirSync, statSync, unlinkSync, type Stats } from 'node:fs';
import net from 'node:net';
import { dirname, join } from 'node:path';
import { errnoCode, quote } from '../../common/display.js';
import { acceptedOwners, agentUid, formatMode } from '../../common/file-trust.js';

/** A socket at the path must answer a connect (or refuse it) within this long to be judged. */
const PROBE_TIMEOUT_MS = 1_000;

/** Why the socket could not be bound; the message is complete and names the path. */
export class SocketError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SocketError';
  }
}

export interface SocketSpec {
  readonly path: string;
  /** Permission bits, e.g. 0o660. */
  readonly mode: number;
}

export interface BoundSocket {
  readonly path: string;
  /** Notes for the start-up log (a directory others may write). */
  readonly warnings: readonly string[];
  /** Removes the socket file if it is still the one bound here (call once the listener closed). */
  remove(): void;
}

/**
 * Binds with `listen(bindPath)` (the caller's server) and moves the socket into place. On failure
 * nothing is left behind but what was there before; the caller closes its server.
 */
export async function bindUnixSocket(spec: SocketSpec, listen: (bindPath: string) => Promise<void>): Promise<BoundSocket> {
  const shown = quote(spec.path, 200);
  try {
    return await bind(spec, shown, listen);
  } catch (err) {
    if (err instanceof SocketError) throw err;
    // An unexpected system error (EACCES on lstat or chmod, …): named by its code, never a stack.
    throw new SocketError(`cannot create ${shown}: ${errnoCode(err) ?? (err as Error).name}`);
  }
}

async function bind(spec: SocketSpec, shown: string, listen: (bindPath: string) => Promise<void>): Promise<BoundSocket> {
  const { path } = spec;
  const dir = dirname(path);
  const warnings = checkDirectory(dir, shown);
  const stale = await existing(path, shown);
  const tmp = makeTempDir(dir, shown);
  const bindPath = join(tmp, 's');
  let ours: Stats;
  try {
    try {
      await listen(bindPath);
    } catch (err) {
      throw new SocketError(`cannot listen on ${shown}: ${errnoCode(err) ?? (err as Error).name}`);
    }
    chmodSync(bindPath, spec.mode);
    if (stale !== undefined) {
      // Still the dead socket we probed? Then it goes; anything else is left alone.
      const now = lstatOrUndefined(path);
      if (now !== undefined && now.dev === stale.dev && now.ino === stale.ino) unlinkSync(path);
    }
    place(bindPath, path, shown);
    ours = lstatSync(path);
  } finally {
    unlinkQuietly(bindPath);
    try {
      rmdirSync(tmp);
    } catch {
      // A leftover empty 0700 directory is harmless; the error that matters is the one thrown above.
    }
  }
  return {
    path,
    warnings,
    remove: () => {
      const now = lstatOrUndefined(path);
      if (now !== undefined && now.dev === ours.dev && now.ino === ours.ino) unlinkQuietly(path);
    },
  };
}

/** The directory's owner may replace the socket; refuse one we cannot vouch for. Returns warnings. */
function checkDirectory(dir: string, shown: string): string[] {
  let st: Stats;
  try {
    st = statSync(dir);
  } catch (err) {
    throw new SocketError(`the directory of ${shown} cannot be used (${errnoCode(err) ?? 'unknown error'}); create it first`);
  }
  if (!st.isDirectory()) throw new SocketError(`the directory of ${shown} is not a directory`);
  const euid = agentUid();
  if (euid !== undefined && st.uid !== euid && st.uid !== 0) {
    throw new SocketError(
      `the directory of ${shown} is owned by uid ${st.uid}, not by ${acceptedOwners(euid)}: its owner could replace the socket with their own and collect the tokens clients send`,
    );
  }
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    return [
      `the directory of ${shown} is writable by group or others without the sticky bit (mode ${formatMode(st.mode)}): whoever can write it can replace the socket with their own; share it only with trusted processes (a Kubernetes emptyDir mounted by the agent and the application only), or use a directory only the agent's user can write`,
    ];
  }
  return [];
}

/** What is at the path: nothing (undefined) or a socket proven dead (its identity). Anything else refuses the start. */
async function existing(path: string, shown: string): Promise<Stats | undefined> {
  const st = lstatOrUndefined(path);
  if (st === undefined) return undefined;
  if (st.isSymbolicLink()) throw new SocketError(`${shown} is a symbolic link; the agent never follows one: remove it or choose another path`);
  if (!st.isSocket()) throw new SocketError(`${shown} exists and is not a socket; the agent replaces only a dead socket: remove it or choose another path`);
  const answer = await probe(path);
  if (answer === 'ECONNREFUSED') return st;
  if (answer === 'connected') throw new SocketError(`${shown} is in use: another process is listening on it (is another agent running?)`);
  throw new SocketError(`${shown} is a socket that cannot be proven dead (connect: ${answer}); remove it if no process uses it`);
}

/** `connected`, or the error code of a connect to the socket. */
function probe(path: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ path });
    const done = (v: string): void => {
      clearTimeout(timer);
      s.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done('ETIMEDOUT'), PROBE_TIMEOUT_MS);
    s.once('connect', () => done('connected'));
    s.once('error', (e: NodeJS.ErrnoException) => done(e.code ?? 'error'));
  });
}

function makeTempDir(dir: string, shown: string): string {
  try {
    // mkdtemp creates it 0700: until the socket is linked into place, no one else can reach it.
    return mkdtempSync(join(dir, '.clef-'));
  } catch (err) {
    throw new SocketError(`cannot create the socket next to ${shown}: the directory is not writable (${errnoCode(err) ?? 'unknown error'})`);
  }
}

/** link() fails with EEXIST instead of replacing what appeared at the path since it was checked. */
function place(bindPath: string, path: string, shown: string): void {
  try {
    linkSync(bindPath, path);
    return;
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EEXIST') throw new SocketError(`${shown} appeared while the agent was starting; is another agent starting on the same path?`);
    // A filesystem without hard links: rename, which would replace what appeared since the
    // check above (a name someone else can write; nothing of theirs is followed).
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EMLINK') {
      throw new SocketError(`cannot create ${shown}: ${code ?? 'unknown error'}`);
    }
  }
  if (lstatOrUndefined(path) !== undefined)
    throw new SocketError(`${shown} appeared while the agent was starting; is another agent starting on the same path?`);
  renameSync(bindPath, path);
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // Already gone.
  }
}
