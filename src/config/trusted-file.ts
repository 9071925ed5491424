/**
 * The start-up side of common/file-trust.ts for a file named by a variable (token file, age key
 * file, and later the scoped-token file): one call that refuses the start when another user could
 * have written the file, and returns the warning for a secret others can read.
 */
import { realpathSync, statSync, type Stats } from 'node:fs';
import { errnoCode, quote } from '../../common/display.js';
import { acceptedOwners, formatMode, secretExposed, untrustedReason } from '../../common/file-trust.js';
import { refuse } from './errors.js';

export interface TrustOptions {
  /** A secret file: readable by group or others gives a warning. */
  readonly secret: boolean;
  /** The file as it will be read (fstat of the open descriptor); else it is stat-ed here, links followed. */
  readonly stats?: Stats | undefined;
}

/** "a file owned by …, not writable by group or others" */
export function trustedFileExpected(): string {
  return `a file owned by ${acceptedOwners()} and not writable by group or others`;
}

/** The path as shown, naming the link target when the path goes through symbolic links. */
function shownPath(path: string): string {
  let real: string | undefined;
  try {
    real = realpathSync(path);
  } catch {
    real = undefined;
  }
  return real === undefined || real === path ? quote(path, 200) : `${quote(path, 200)} (resolved to ${quote(real, 200)})`;
}

/**
 * Refuses (ConfigError naming `variable`) a file not owned by the agent's user or root, or writable
 * by group or others. Links are followed on purpose: the target is judged, which is what is read.
 * Returns a warning line for a secret readable by group or others, else undefined.
 */
export function checkTrustedFile(variable: string, path: string, o: TrustOptions): string | undefined {
  let st = o.stats;
  if (st === undefined) {
    try {
      st = statSync(path);
    } catch (err) {
      return refuse(variable, `${quote(path, 200)} cannot be inspected (${errnoCode(err) ?? 'unknown error'})`, trustedFileExpected());
    }
  }
  const why = untrustedReason(st);
  if (why !== undefined) refuse(variable, `${shownPath(path)} ${why}`, trustedFileExpected());
  if (o.secret && secretExposed(st)) {
    return `${variable} ${shownPath(path)} is readable by group or others (mode ${formatMode(st.mode)}); restrict it to 0600 or 0400`;
  }
  return undefined;
}
