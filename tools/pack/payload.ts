/**
 * Payload checking for `clef-agent pack` (SPEC §2.1). The agent rejects an artifact whose decrypted
 * payload has the wrong shape, and by then nobody can read the plaintext to see why — so pack
 * refuses it up front, with a message that names the offending key and never its value.
 */

import { PackError } from './errors.js';

/** A valid payload: namespaces of string values, or flat string values, or `{}`. */
export type PackPayload = { readonly [namespace: string]: { readonly [key: string]: string } } | { readonly [key: string]: string };

/** `"name"` — JSON-quoted so control characters or quotes in a key name cannot garble the message. */
function q(name: string): string {
  return JSON.stringify(name);
}

/** Describe a value's JSON type without revealing the value itself. */
function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'number') return 'a number';
  if (typeof v === 'boolean') return 'a boolean';
  return typeof v;
}

/** Plain data object only: arrays, Maps, Dates, class instances are not JSON objects. */
function isPlainObject(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/**
 * Check that `value` is a SPEC §2.1 payload. Only own enumerable keys count (what JSON.stringify
 * emits); a `__proto__` key produced by JSON.parse is an ordinary own key here, as the spec requires.
 */
export function checkPayload(value: unknown): asserts value is PackPayload {
  if (!isPlainObject(value)) {
    throw new PackError(`payload must be a JSON object of namespaces or of strings (found ${kind(value)})`);
  }
  let firstNamespace: string | undefined;
  let firstFlat: string | undefined;
  for (const [name, v] of Object.entries(value)) {
    if (typeof v === 'string') {
      firstFlat ??= name;
    } else if (isPlainObject(v)) {
      firstNamespace ??= name;
      for (const [key, leaf] of Object.entries(v)) {
        if (typeof leaf !== 'string') {
          const why = isPlainObject(leaf) ? 'an object (payloads nest at most one level)' : kind(leaf);
          throw new PackError(`payload key ${q(`${name}.${key}`)} must be a string (found ${why})`);
        }
      }
    } else {
      throw new PackError(`payload key ${q(name)} must be a namespace object or a string (found ${kind(v)})`);
    }
    if (firstFlat !== undefined && firstNamespace !== undefined) {
      throw new PackError(
        `payload mixes flat keys and namespaces at the top level (${q(firstFlat)} is a string, ` + `${q(firstNamespace)} is a namespace); use one or the other`,
      );
    }
  }
}

/**
 * Parse payload JSON text. JSON.parse's own message quotes a stretch of the input (which would put
 * secret values into the terminal or CI log), so only the line and column survive.
 */
export function parsePayloadJson(text: string): PackPayload {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    const m = /at position (\d+)/.exec(err instanceof Error ? err.message : '');
    let where = '';
    if (m?.[1] !== undefined) {
      const before = text.slice(0, Number(m[1]));
      const line = before.split('\n').length;
      const column = before.length - before.lastIndexOf('\n');
      where = ` (line ${line}, column ${column})`;
    } else if (/end of JSON input/.test(err instanceof Error ? err.message : '')) {
      where = ' (unexpected end of input)';
    }
    throw new PackError(`payload is not valid JSON${where}`);
  }
  checkPayload(parsed);
  return parsed;
}

/** Decode payload file bytes: strict UTF-8 (the artifact format is UTF-8 JSON) and no BOM. */
export function decodePayloadBytes(bytes: Uint8Array): string {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) {
    throw new PackError('payload starts with a UTF-8 byte order mark; save it as UTF-8 without BOM');
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    throw new PackError('payload is not valid UTF-8');
  }
}
