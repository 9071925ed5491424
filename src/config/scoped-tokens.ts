/**
 * Scoped tokens (SPEC §10.3): `CLEF_AGENT_TOKENS_FILE` names a JSON file
 * `{"tokens":[{"name":"web","sha256":"<64 hex>","namespaces":["app"]}]}` holding only SHA-256 hashes
 * of tokens, never the tokens. Read at start-up and again on SIGHUP (src/lifecycle/reload.ts).
 *
 * Validation is strict and every message names the variable, the file, the entry and what is
 * accepted. A hash is never quoted: it is derived from a credential, so it stays out of messages
 * and logs like the token itself.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { errnoCode, quote } from '../../common/display.js';
import { isPlainObject, jsonTypeName } from '../../common/json.js';
import { createHash } from 'node:crypto';
import { refuse, type Issues } from './errors.js';
import { hasControlChar, pathValue, read, type Env } from './parse.js';
import { checkTrustedFile } from './trusted-file.js';

export const TOKENS_FILE = 'CLEF_AGENT_TOKENS_FILE';

/** "an array", "a string", or "nothing" for a missing field. */
const typeOf = (v: unknown): string => (v === undefined ? 'nothing' : jsonTypeName(v));

/** The name logs and the `token` metric label use for the main token; no scoped token may take it. */
export const MAIN_TOKEN_NAME = 'main';
/** A file this big is not a token list. */
export const MAX_TOKENS_FILE_BYTES = 1024 * 1024;
/** Bounds the `token` metric label's cardinality and the per-request comparisons. */
export const MAX_SCOPED_TOKENS = 256;
const MAX_NAME = 64;
const MAX_NAMESPACE = 256;
const NAME_RE = /^[A-Za-z0-9_.-]+$/;
const HEX_RE = /^[0-9a-fA-F]{64}$/;

export const TOKENS_FILE_EXPECTED =
  'a JSON file {"tokens":[{"name":"<name>","sha256":"<64 hex digits: SHA-256 of the token>","namespaces":["<namespace>",…]},…]}';

/** One scoped token as the agent keeps it: the hash as bytes, never the token. */
export interface ScopedToken {
  readonly name: string;
  /** SHA-256 of the token (32 bytes). */
  readonly sha256: Buffer;
  /** Sorted, unique. */
  readonly namespaces: readonly string[];
}

export interface ScopedTokensResult {
  readonly tokens: readonly ScopedToken[];
  readonly file: string;
}

/**
 * Parses the file's text. `shown` is the file as messages show it. Throws a ConfigError naming
 * CLEF_AGENT_TOKENS_FILE on the first problem.
 */
export function parseScopedTokens(text: string, shown: string): ScopedToken[] {
  const bad = (problem: string, expected = TOKENS_FILE_EXPECTED): never => refuse(TOKENS_FILE, `${shown} ${problem}`, expected);
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch {
    return bad('is not valid JSON');
  }
  if (!isPlainObject(root)) return bad(`must hold a JSON object (found ${typeOf(root)})`);
  for (const k of Object.keys(root)) if (k !== 'tokens') bad(`has an unknown field ${quote(k)} at the top level (only "tokens" is accepted)`);
  const list = root['tokens'];
  if (list === undefined) return bad('has no "tokens" field');
  if (!Array.isArray(list)) return bad(`"tokens" must be an array (found ${typeOf(list)})`);
  if (list.length === 0) return bad('"tokens" is empty', `${TOKENS_FILE_EXPECTED} with at least one token, or the variable unset`);
  if (list.length > MAX_SCOPED_TOKENS) return bad(`"tokens" has ${list.length} entries, more than ${MAX_SCOPED_TOKENS}`);
  const names = new Map<string, number>();
  const hashes = new Map<string, string>();
  const out: ScopedToken[] = [];
  for (const [i, entry] of list.entries()) {
    const at = `tokens[${i}]`;
    if (!isPlainObject(entry)) return bad(`${at} must be an object (found ${typeOf(entry)})`);
    for (const k of Object.keys(entry)) {
      if (k !== 'name' && k !== 'sha256' && k !== 'namespaces') bad(`${at} has an unknown field ${quote(k)} (accepted: "name", "sha256", "namespaces")`);
    }
    const name = entry['name'];
    if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME || !NAME_RE.test(name)) {
      return bad(`${at} "name" must be 1 to ${MAX_NAME} letters, digits, "_", "." or "-" (found ${typeof name === 'string' ? quote(name) : typeOf(name)})`);
    }
    const where = `${at} (${quote(name)})`;
    if (name === MAIN_TOKEN_NAME) return bad(`${where} uses the name ${quote(MAIN_TOKEN_NAME)}, reserved for the main token (CLEF_AGENT_TOKEN)`);
    const seen = names.get(name);
    if (seen !== undefined) return bad(`${where} repeats the name of tokens[${seen}]; every name must be unique`);
    names.set(name, i);
    const hash = entry['sha256'];
    // Never quoted: a hash of a credential stays out of messages.
    if (typeof hash !== 'string') return bad(`${where} "sha256" must be a string (found ${typeOf(hash)})`);
    if (!HEX_RE.test(hash))
      return bad(
        `${where} "sha256" is not 64 hexadecimal digits (${hash.length} characters)`,
        'the SHA-256 of the token in hex, e.g. from `printf %s "$TOKEN" | sha256sum`',
      );
    const lower = hash.toLowerCase();
    const twin = hashes.get(lower);
    if (twin !== undefined) return bad(`${where} has the same "sha256" as ${twin}; every token must be different`);
    hashes.set(lower, where);
    const ns = entry['namespaces'];
    if (!Array.isArray(ns)) return bad(`${where} "namespaces" must be an array of namespace names (found ${typeOf(ns)})`);
    if (ns.length === 0) return bad(`${where} "namespaces" is empty; a token must see at least one namespace`);
    const set = new Set<string>();
    for (const n of ns as unknown[]) {
      if (typeof n !== 'string' || n.length === 0 || n.length > MAX_NAMESPACE || hasControlChar(n)) {
        return bad(
          `${where} "namespaces" holds ${typeof n === 'string' ? quote(n) : typeOf(n)}, not a namespace name (1 to ${MAX_NAMESPACE} characters, no control characters)`,
        );
      }
      if (set.has(n)) return bad(`${where} "namespaces" names ${quote(n)} twice`);
      set.add(n);
    }
    out.push({ name, sha256: Buffer.from(lower, 'hex'), namespaces: [...set].sort() });
  }
  return out;
}

/**
 * Reads and parses the file. Symbolic links are followed (Kubernetes mounts Secrets and ConfigMaps
 * through them); the open file itself is judged by the trust rule (owner, not writable by group or
 * others): whoever could write it could grant themselves a token. O_NONBLOCK keeps a FIFO from hanging.
 */
export function readScopedTokens(file: string): ScopedTokensResult {
  const shown = quote(file, 200);
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoCode(err) ?? 'unknown error';
    return refuse(TOKENS_FILE, code === 'ENOENT' ? `${shown} does not exist` : `${shown} cannot be read (${code})`, TOKENS_FILE_EXPECTED);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) refuse(TOKENS_FILE, `${shown} is not a regular file`, TOKENS_FILE_EXPECTED);
    // Hashes, not tokens: readable by others is no warning, but writable by others is refused.
    checkTrustedFile(TOKENS_FILE, file, { secret: false, stats: st });
    if (st.size > MAX_TOKENS_FILE_BYTES) refuse(TOKENS_FILE, `${shown} is larger than ${MAX_TOKENS_FILE_BYTES} bytes`, TOKENS_FILE_EXPECTED);
    text = readFileSync(fd, 'utf8');
  } finally {
    closeSync(fd);
  }
  return { tokens: parseScopedTokens(text, shown), file };
}

/** Start-up: the variable, when set, read and parsed (issues recorded, undefined on any). */
export function resolveScopedTokens(env: Env, cwd: string, issues: Issues): ScopedTokensResult | undefined {
  const raw = read(env, TOKENS_FILE);
  if (raw === undefined) return undefined;
  return issues.run(() => readScopedTokens(pathValue(TOKENS_FILE, raw, cwd, TOKENS_FILE_EXPECTED)));
}

/**
 * A scoped entry whose hash is the main token's would make the main token a scoped one (or the other
 * way round): refused, naming the entry only.
 */
export function checkDistinct(mainToken: string | undefined, tokens: readonly ScopedToken[]): void {
  if (mainToken === undefined) return;
  const main = createHash('sha256').update(mainToken, 'utf8').digest();
  const same = tokens.find((t) => t.sha256.equals(main));
  if (same !== undefined) {
    refuse(
      TOKENS_FILE,
      `the token named ${quote(same.name)} is the main token (CLEF_AGENT_TOKEN / CLEF_AGENT_TOKEN_FILE)`,
      'scoped tokens different from the main token',
    );
  }
}
