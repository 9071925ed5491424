/**
 * The age identity, parsed once per worker and reused. Workers get it from `WorkerInit` (piscina
 * `workerData`): an inline key as opaque UTF-8 bytes, or a key file path that the worker reads
 * itself, so the main thread never parses or holds a usable key.
 *
 * Messages name the variable and the problem; they never quote the key text.
 */
import { readFileSync } from 'node:fs';
import type { TaskFailure, WorkerInit } from '../common/protocol.js';
import { AgeFastDecrypter } from './decrypt/age-fast.js';
import { AgeIdentities, identityKey } from './decrypt/age-identity.js';
import type { X25519Key } from './decrypt/age-header.js';
import { taskFailure } from '../common/task-failure.js';
import { errnoCode } from '../common/display.js';

type AgeKeySpec = NonNullable<WorkerInit['ageKey']>;

const EXPECTED = 'expected AGE-SECRET-KEY-1… (X25519)';

/** One-slot cache: a worker only ever serves one key spec; tests swap specs freely. */
let cached: { readonly spec: AgeKeySpec; readonly identities: AgeIdentities } | undefined;

/** The JIT fast path over the cached identities (workers/decrypt/age-fast.ts); one per worker. */
let fast: AgeFastDecrypter | undefined;
let fastFor: AgeIdentities | undefined;

/**
 * Forget the parsed key (SPEC §4.3 "drop every copy" on revocation). The next task re-reads it.
 * OpenSSL keeps the scalar inside its key objects, so dropping the reference is all we can do.
 */
export function dropKeyCache(): void {
  cached = undefined;
  // The fast path's payload key is wiped; dropping `fastFor` releases the identities it shares.
  fast?.clear();
  fast = undefined;
  fastFor = undefined;
}

/**
 * Returns the worker's `AgeFastDecrypter`, built on the same parsed key as `getIdentities`. When the
 * key spec changes, the old one's cached payload key is wiped.
 */
export function getFastDecrypter(init: WorkerInit): AgeFastDecrypter | TaskFailure {
  const d = getIdentities(init);
  if (!(d instanceof AgeIdentities)) return d;
  if (fast === undefined || fastFor !== d) {
    fast?.clear();
    fast = new AgeFastDecrypter(d);
    fastFor = d;
  }
  return fast;
}

/** Returns the worker's identities, parsing the configured key on first use. */
export function getIdentities(init: WorkerInit): AgeIdentities | TaskFailure {
  const spec = init.ageKey;
  if (spec === undefined) {
    return taskFailure('no_key', 'no age key configured: set CLEF_AGENT_AGE_KEY or CLEF_AGENT_AGE_KEY_FILE');
  }
  if (cached !== undefined && cached.spec === spec) return cached.identities;
  const parsed = parseSpec(spec);
  if (parsed instanceof AgeIdentities) cached = { spec, identities: parsed };
  return parsed;
}

/** Parses a key spec without caching it (the reload's proof, SPEC §10.5). */
export function parseSpec(spec: AgeKeySpec): AgeIdentities | TaskFailure {
  return spec.kind === 'inline' ? fromText(decodeInline(spec.bytes), 'CLEF_AGENT_AGE_KEY is not a valid age secret key') : fromFile(spec.path);
}

function decodeInline(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

function fromFile(path: string): AgeIdentities | TaskFailure {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    return taskFailure('key_unreadable', `CLEF_AGENT_AGE_KEY_FILE ${path} cannot be read (${errnoCode(err) ?? 'error'})`);
  }
  const text = decodeInline(buf);
  // The file's bytes are key material: wipe our copy once decoded (the string cannot be wiped).
  buf.fill(0);
  return fromText(text, `CLEF_AGENT_AGE_KEY_FILE ${path} does not contain a valid age secret key`);
}

/**
 * Parses identity-file text: `#` comments and blank lines are skipped, every other line must be an
 * X25519 identity. All identities are kept, like `age -i` does.
 */
function fromText(text: string | null, prefix: string): AgeIdentities | TaskFailure {
  if (text === null) return taskFailure('key_invalid', `${prefix}: not UTF-8 text; ${EXPECTED}`);
  const keys: X25519Key[] = [];
  const keyLines: string[] = [];
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = lines.length > 1 ? ` (line ${i + 1})` : '';
    if (line.startsWith('AGE-SECRET-KEY-PQ-1')) {
      return taskFailure('key_invalid', `${prefix}${where}: post-quantum identities are not supported; ${EXPECTED}`);
    }
    if (!line.startsWith('AGE-SECRET-KEY-1')) return taskFailure('key_invalid', `${prefix}${where}: ${EXPECTED}`);
    // The bech32 checksum and the 32-byte scalar, as age-encryption's addIdentity checks them.
    const key = identityKey(line);
    if (key === undefined) return taskFailure('key_invalid', `${prefix}${where}: bad encoding or checksum; ${EXPECTED}`);
    keys.push(key);
    keyLines.push(line);
  }
  if (keys.length === 0) return taskFailure('key_invalid', `${prefix}: no key found; ${EXPECTED}`);
  return new AgeIdentities(keys, keyLines);
}
