/**
 * CLEF_AGENT_CACHE_PATH (SPEC §3, §4.4): which directory the disk cache uses, decided at start-up
 * so an unsuitable one refuses the start. An existing directory is never chmod-ed (`/tmp` or
 * `/var/cache` must stay as they are):
 *
 * - missing: created 0700, parents as needed;
 * - a directory owned by the agent's user or root that group and others cannot write: used as is
 *   (it must be writable by the agent);
 * - a directory group or others can write (`/tmp`, a Kubernetes emptyDir): the agent uses its own
 *   subdirectory `clef-agent-<euid>` in it, created 0700; an existing one must be a real directory
 *   owned by the agent's user with no group or other bits, or someone else made it for us;
 * - anything else (not a directory, owned by another user whatever its mode): refused.
 *
 * Split like the token file: `planCacheDir` inspects without side effects, `finishCacheDir`
 * creates directories only once every other setting is valid.
 */
import { accessSync, constants, lstatSync, mkdirSync, realpathSync, statSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { errnoCode, quote } from '../../common/display.js';
import { acceptedOwners, agentUid, formatMode, untrustedReason } from '../../common/file-trust.js';
import { refuse } from './errors.js';
import { pathValue } from './parse.js';

const NAME = 'CLEF_AGENT_CACHE_PATH';
export const CACHE_PATH_EXPECTED = 'a directory for the disk cache (created if missing)';
const trustedExpected = (): string =>
  `a directory owned by ${acceptedOwners()} that group and others cannot write (the agent then uses a subdirectory of its own), or a missing path to create`;

export type CacheDirPlan =
  /** Use `dir`, creating it (and its parents) 0700 when `create`. */
  | { readonly kind: 'direct'; readonly dir: string; readonly create: boolean }
  /** `parent` is writable by group or others: use the private `dir` inside it, creating it when `create`. */
  | { readonly kind: 'private'; readonly parent: string; readonly dir: string; readonly create: boolean };

export function privateName(euid = agentUid()): string {
  return `clef-agent-${euid ?? 'user'}`;
}

/** Inspects the configured path. No side effects; refuses (ConfigError) what can never be used. */
export function planCacheDir(raw: string, cwd: string): CacheDirPlan {
  const configured = pathValue(NAME, raw, cwd, CACHE_PATH_EXPECTED);
  const shown = quote(configured, 200);
  let st: Stats;
  try {
    // A link the operator set up is followed once, here; the workers then use the real path.
    st = statSync(configured);
  } catch (err) {
    const code = errnoCode(err) ?? 'unknown error';
    if (code === 'ENOENT') return { kind: 'direct', dir: configured, create: true };
    return refuse(NAME, `${shown} cannot be inspected (${code})`, CACHE_PATH_EXPECTED);
  }
  if (!st.isDirectory()) refuse(NAME, `${shown} exists and is not a directory`, CACHE_PATH_EXPECTED);
  const dir = realpathSync(configured);
  const euid = agentUid();
  if (euid !== undefined && st.uid !== euid && st.uid !== 0) {
    refuse(NAME, `${shown} is owned by uid ${st.uid}, not by ${acceptedOwners(euid)}`, trustedExpected());
  }
  if (euid !== undefined && (st.mode & 0o022) !== 0) {
    const sub = join(dir, privateName(euid));
    const existing = inspectPrivate(sub, euid);
    return { kind: 'private', parent: dir, dir: sub, create: !existing };
  }
  checkWritable(dir);
  return { kind: 'direct', dir, create: false };
}

/** Creates what the plan needs; returns the directory the cache uses. Refuses when a check fails. */
export function finishCacheDir(plan: CacheDirPlan): string {
  if (!plan.create) return plan.dir;
  const euid = agentUid();
  try {
    // Private: non-recursive, so an existing name is never silently adopted (EEXIST re-checks it).
    mkdirSync(plan.dir, { recursive: plan.kind === 'direct', mode: 0o700 });
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') {
      return refuse(NAME, `${quote(plan.dir, 200)} cannot be created (${errnoCode(err) ?? 'unknown error'})`, CACHE_PATH_EXPECTED);
    }
  }
  if (plan.kind === 'private') {
    inspectPrivate(plan.dir, euid);
  } else {
    // Someone may have created it between the plan and the mkdir (recursive mkdir accepts that).
    const st = lstatSync(plan.dir);
    const why = st.isDirectory() ? untrustedReason(st, euid) : 'is not a directory';
    if (why !== undefined) refuse(NAME, `${quote(plan.dir, 200)} ${why}`, trustedExpected());
  }
  checkWritable(plan.dir);
  return plan.dir;
}

/**
 * The private subdirectory, when it exists: a real directory (never a link), owned by the agent's
 * user, no group or other bits. Anything else was made by someone else: refused, never adopted.
 * Returns false when it does not exist.
 */
function inspectPrivate(sub: string, euid: number | undefined): boolean {
  let st: Stats;
  try {
    st = lstatSync(sub);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return false;
    return refuse(NAME, `${quote(sub, 200)} cannot be inspected (${errnoCode(err) ?? 'unknown error'})`, CACHE_PATH_EXPECTED);
  }
  const expected = `${quote(sub, 200)} absent (the agent creates it) or a directory owned by uid ${euid ?? '?'} with mode 0700`;
  const problem = st.isSymbolicLink()
    ? 'is a symbolic link'
    : !st.isDirectory()
      ? 'is not a directory'
      : euid !== undefined && st.uid !== euid
        ? `is owned by uid ${st.uid}`
        : (st.mode & 0o077) !== 0
          ? `is accessible to group or others (mode ${formatMode(st.mode)})`
          : undefined;
  if (problem !== undefined) refuse(NAME, `${quote(sub, 200)} (the agent's private cache directory) ${problem}`, expected);
  return true;
}

function checkWritable(dir: string): void {
  try {
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch (err) {
    refuse(NAME, `${quote(dir, 200)} is not writable by this process (${errnoCode(err) ?? 'unknown error'})`, `${CACHE_PATH_EXPECTED}, writable by the agent`);
  }
}
