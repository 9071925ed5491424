/**
 * The bearer token (SPEC §3): `CLEF_AGENT_TOKEN`, else the contents of `CLEF_AGENT_TOKEN_FILE`, else
 * 32 random bytes (hex), written to the token file when one is named. Token values are secrets:
 * no message here ever contains one.
 *
 * Resolution is split in two so start-up has no side effect while any setting is still invalid:
 * `planToken` validates and reads, `finishToken` creates the file only once everything else passed.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, lstatSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { refuse, type Issues } from './errors.js';
import { isHeaderSafe, pathValue, read, type Env } from './parse.js';
import { errnoCode, quote } from '../../common/display.js';
import type { Config } from './types.js';
import { checkTrustedFile } from './trusted-file.js';
import { MAX_TOKEN_LENGTH, VARIABLES } from './variables.js';

const TOKEN = VARIABLES.token.name;
const TOKEN_FILE = VARIABLES.tokenFile.name;
const MIN_RECOMMENDED = 32;
/** A token file bigger than this is not a token file. */
const MAX_FILE_BYTES = 4096;
const TOKEN_EXPECTED = `a bearer token of visible ASCII characters without spaces (at least ${MIN_RECOMMENDED} recommended, at most ${MAX_TOKEN_LENGTH})`;
const FILE_EXPECTED = 'a path to a regular file holding the bearer token, or a path where it can be created';

export const SHORT_TOKEN_WARNING = `${TOKEN} is shorter than ${MIN_RECOMMENDED} characters; use at least ${MIN_RECOMMENDED} random characters`;
export const SHORT_FILE_TOKEN_WARNING = `the token in ${TOKEN_FILE} is shorter than ${MIN_RECOMMENDED} characters; use at least ${MIN_RECOMMENDED} random characters`;
export const BOTH_SET_WARNING = `${TOKEN} and ${TOKEN_FILE} are both set; using ${TOKEN} and ignoring the file`;

export type TokenPlan =
  | {
      readonly kind: 'ready';
      readonly token: string;
      readonly origin: 'env' | 'file';
      readonly file?: string | undefined;
      readonly warnings: readonly string[];
    }
  /** Generate a token; with `file`, create that file holding it. */
  | { readonly kind: 'generate'; readonly file?: string | undefined; readonly warnings: readonly string[] };

export type TokenResult = Pick<Config, 'token' | 'tokenOrigin' | 'tokenFile'> & { readonly warnings: readonly string[] };

/** Validates a token value; `name` is the variable the message blames. Never echoes the value. */
function checkToken(name: string, token: string, what: string): string {
  if (token === '') refuse(name, `${what}is empty`, TOKEN_EXPECTED);
  if (token.length > MAX_TOKEN_LENGTH) refuse(name, `${what}is longer than ${MAX_TOKEN_LENGTH} characters`, TOKEN_EXPECTED);
  if (!isHeaderSafe(token)) refuse(name, `${what}contains a space, a control character or a non-ASCII character`, TOKEN_EXPECTED);
  return token;
}

/**
 * Reads an existing token file. A symbolic link to a regular file is followed on read (Kubernetes
 * mounts Secret volumes as symlinks; whoever can plant a link there could write the file itself),
 * but a dangling link is refused: the token file is never created through a link.
 * O_NONBLOCK keeps a FIFO swapped in after the stat from hanging start-up.
 */
function readTokenFile(file: string): TokenPlan {
  const shown = quote(file, 200);
  let st;
  try {
    st = lstatSync(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { kind: 'generate', file, warnings: [] };
    return refuse(TOKEN_FILE, `${shown} cannot be inspected (${errnoCode(err) ?? 'unknown error'})`, FILE_EXPECTED);
  }
  if (st.isSymbolicLink()) {
    try {
      st = statSync(file);
    } catch (err) {
      return refuse(
        TOKEN_FILE,
        `${shown} is a symbolic link whose target cannot be read (${errnoCode(err) ?? 'unknown error'})`,
        `${FILE_EXPECTED} (the token file is never created through a symbolic link)`,
      );
    }
  }
  if (!st.isFile()) refuse(TOKEN_FILE, `${shown} is not a regular file`, FILE_EXPECTED);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    return refuse(TOKEN_FILE, `${shown} cannot be read (${errnoCode(err) ?? 'unknown error'})`, FILE_EXPECTED);
  }
  let content: string;
  let exposed: string | undefined;
  try {
    const fst = fstatSync(fd);
    if (!fst.isFile()) refuse(TOKEN_FILE, `${shown} is not a regular file`, FILE_EXPECTED);
    // Judged on the open file, so the file checked is the file read. A file another user could
    // have written holds a token of their choosing: refused before its content is looked at.
    exposed = checkTrustedFile(TOKEN_FILE, file, { secret: true, stats: fst });
    if (fst.size > MAX_FILE_BYTES) refuse(TOKEN_FILE, `${shown} is larger than ${MAX_FILE_BYTES} bytes`, FILE_EXPECTED);
    content = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  // Editors and `echo` add a trailing newline; it is never part of the token.
  const token = checkToken(TOKEN_FILE, content.replace(/\s+$/, ''), `the token in ${shown} `);
  const warnings = [...(exposed === undefined ? [] : [exposed]), ...(token.length < MIN_RECOMMENDED ? [SHORT_FILE_TOKEN_WARNING] : [])];
  return { kind: 'ready', token, origin: 'file', file, warnings };
}

/** Validates and reads; records issues and returns undefined when anything is wrong. No side effects. */
export function planToken(env: Env, cwd: string, issues: Issues): TokenPlan | undefined {
  const raw = read(env, TOKEN);
  const rawFile = read(env, TOKEN_FILE);
  const file = rawFile === undefined ? undefined : issues.run(() => pathValue(TOKEN_FILE, rawFile, cwd, FILE_EXPECTED));
  if (raw !== undefined) {
    // Env wins over the file (SPEC: the file is created only when "no token is set"); the file is
    // then neither read nor created, and the start-up log says so.
    const token = issues.run(() => checkToken(TOKEN, raw, ''));
    if (token === undefined) return undefined;
    const warnings: string[] = [];
    if (rawFile !== undefined) warnings.push(BOTH_SET_WARNING);
    if (token.length < MIN_RECOMMENDED) warnings.push(SHORT_TOKEN_WARNING);
    return { kind: 'ready', token, origin: 'env', warnings };
  }
  if (rawFile === undefined) return { kind: 'generate', warnings: [] };
  if (file === undefined) return undefined;
  return issues.run(() => readTokenFile(file));
}

/** CLEF_AGENT_TOKENS_FILE alone: scoped tokens only, no main token (README "Scoped tokens"). */
export const NO_MAIN_TOKEN: TokenResult = { token: undefined, tokenOrigin: 'none', tokenFile: undefined, warnings: [] };

/**
 * SIGHUP (SPEC §10.5): the token file read again, with the start-up rules. A file that is gone is
 * a failed reload (never re-created: the token clients hold would silently change). Throws a
 * ConfigError naming CLEF_AGENT_TOKEN_FILE.
 */
export function rereadTokenFile(file: string): { readonly token: string; readonly warnings: readonly string[] } {
  const plan = readTokenFile(file);
  if (plan.kind !== 'ready') return refuse(TOKEN_FILE, `${quote(file, 200)} does not exist`, FILE_EXPECTED);
  return { token: plan.token, warnings: plan.warnings };
}

export function generateToken(): string {
  return randomBytes(32).toString('hex');
}

/**
 * Creates the token file: exclusive (never overwrites, never follows a symlink planted at the path),
 * mode 0600 set explicitly so an unusual umask cannot widen or narrow it. Written without a trailing
 * newline so consumers that read the file verbatim get exactly the token. A partial file is removed.
 */
export function createTokenFile(file: string, token: string): void {
  const shown = quote(file, 200);
  let fd: number;
  try {
    fd = openSync(file, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600);
  } catch (err) {
    return refuse(
      TOKEN_FILE,
      `${shown} cannot be created (${errnoCode(err) ?? 'unknown error'})`,
      `${FILE_EXPECTED}, in an existing directory this process can write to`,
    );
  }
  try {
    fchmodSync(fd, 0o600);
    const bytes = Buffer.from(token, 'utf8');
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    try {
      unlinkSync(file);
    } catch {
      // Already gone or not removable: the error below is the one worth reporting.
    }
    return refuse(TOKEN_FILE, `${shown} could not be written (${errnoCode(err) ?? 'unknown error'})`, FILE_EXPECTED);
  }
  closeSync(fd);
}

/** Executes a plan; the only step with a side effect (creating the token file). */
export function finishToken(plan: TokenPlan): TokenResult {
  if (plan.kind === 'ready') return { token: plan.token, tokenOrigin: plan.origin, tokenFile: plan.file, warnings: plan.warnings };
  const token = generateToken();
  if (plan.file === undefined) return { token, tokenOrigin: 'generated', tokenFile: undefined, warnings: plan.warnings };
  createTokenFile(plan.file, token);
  return { token, tokenOrigin: 'generated-file', tokenFile: plan.file, warnings: plan.warnings };
}
