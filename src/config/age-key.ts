/**
 * The age identity: `CLEF_AGENT_AGE_KEY` or `CLEF_AGENT_AGE_KEY_FILE`, at most one of them.
 *
 * The main thread never parses the age key: the inline key becomes opaque bytes for the workers
 * (which validate its format) and the variable is deleted from the environment, so child processes
 * never inherit it. A key file is only checked to be a readable regular file, never read here.
 */
import { SealedBytes } from './sealed.js';
import { accessSync, constants, statSync } from 'node:fs';
import { refuse, type Issues } from './errors.js';
import { pathValue, read, type Env } from './parse.js';
import { errnoCode, quote } from '../../common/display.js';
import type { AgeKeySource } from './types.js';
import { checkTrustedFile } from './trusted-file.js';
import { VARIABLES } from './variables.js';

const AGE_KEY = VARIABLES.ageKey.name;
const AGE_KEY_FILE = VARIABLES.ageKeyFile.name;
const FILE_EXPECTED = 'a path to a readable age identity file';

/** Follows symlinks on purpose (Kubernetes mounts secret files as symlinks into `..data/`): the target is judged. */
function checkKeyFile(raw: string, cwd: string, warnings: string[]): AgeKeySource {
  const path = pathValue(AGE_KEY_FILE, raw, cwd, FILE_EXPECTED);
  const shown = quote(path, 200);
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = errnoCode(err) ?? 'unknown error';
    return refuse(AGE_KEY_FILE, code === 'ENOENT' ? `${shown} does not exist` : `${shown} cannot be inspected (${code})`, FILE_EXPECTED);
  }
  if (!st.isFile()) refuse(AGE_KEY_FILE, `${shown} is not a regular file`, FILE_EXPECTED);
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    refuse(AGE_KEY_FILE, `${shown} is not readable by this process (${errnoCode(err) ?? 'unknown error'})`, FILE_EXPECTED);
  }
  // Size is metadata, not content: an empty file can be refused without reading it.
  if (st.size === 0) refuse(AGE_KEY_FILE, `${shown} is empty`, FILE_EXPECTED);
  // Another user who could write the key file would choose the identity the agent decrypts with.
  const exposed = checkTrustedFile(AGE_KEY_FILE, path, { secret: true, stats: st });
  if (exposed !== undefined) warnings.push(exposed);
  return { kind: 'file', path };
}

/**
 * SIGHUP (SPEC §10.5): the key file checked again with the start-up rules (a readable regular file,
 * not empty, owned and protected as at start-up). Still never read here: a worker proves it.
 * Throws a ConfigError naming the variable.
 */
export function recheckKeyFile(path: string, warnings: string[]): void {
  checkKeyFile(path, '/', warnings);
}

/** Mutates `env`: CLEF_AGENT_AGE_KEY is removed whatever else happens. */
export function resolveAgeKey(env: Env, cwd: string, issues: Issues, warnings: string[]): AgeKeySource | undefined {
  const inline = read(env, AGE_KEY);
  delete env[AGE_KEY];
  const file = read(env, AGE_KEY_FILE);
  if (inline !== undefined && file !== undefined) {
    issues.add(AGE_KEY, `is set together with ${AGE_KEY_FILE}`, `only one of ${AGE_KEY} or ${AGE_KEY_FILE}`);
    return undefined;
  }
  if (inline !== undefined) {
    // Secret: the value is never quoted. Its format is the workers' business.
    if (inline === '') return issues.run(() => refuse(AGE_KEY, 'is empty', 'an age secret key (AGE-SECRET-KEY-1…)'));
    // process.env hands us a string (which cannot be wiped); from here on only sealed bytes remain.
    // A dedicated buffer, not `Buffer.from` (which slices Node's shared 8 KiB pool): every new
    // worker gets a structured clone of the whole backing ArrayBuffer, which must hold the key only.
    const bytes = Buffer.alloc(Buffer.byteLength(inline, 'utf8'));
    bytes.write(inline, 'utf8');
    return { kind: 'inline', sealed: new SealedBytes(bytes) };
  }
  if (file !== undefined) return issues.run(() => checkKeyFile(file, cwd, warnings));
  // Neither: allowed. KMS artifacts need no age key; an age artifact without one fails the first load.
  return undefined;
}
