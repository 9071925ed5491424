/**
 * The payload rule (SPEC §2.1), one implementation for the workers (which check every decrypted
 * payload) and `clef-agent pack` (which refuses a payload the agent would refuse, while its author
 * can still read the file): a JSON object of string values (flat), or of namespace objects of
 * string values (nested); `{}` is an empty flat payload. Nothing deeper, no mixing of the two.
 *
 * Parsing keeps names in `Map`s, never as properties of ordinary objects, so `__proto__` or
 * `constructor` are just keys. (`JSON.parse` itself defines `__proto__` as an own property, which is
 * harmless as long as nothing assigns into `{}` — we only read its result with `Object.keys`.)
 *
 * Key order is the order `Object.keys` gives on `JSON.parse`'s result: the document order, except
 * that integer-like keys ("1", "42") come first in ascending order, as everywhere in JavaScript.
 *
 * Messages name keys (names are not secret) but never a value.
 */
import { quote } from './display.js';
import { isPlainObject, jsonTypeName } from './json.js';

/** `nested`: namespace → key → value; `flat`: key → value. */
export type Payload =
  | { readonly kind: 'flat'; readonly keys: ReadonlyMap<string, string> }
  | { readonly kind: 'nested'; readonly namespaces: ReadonlyMap<string, ReadonlyMap<string, string>> };

/** Why a payload is refused: a message that names keys and JSON types, never a value. */
export interface PayloadProblem {
  readonly problem: string;
}

/** Checks a parsed JSON value against SPEC §2.1. */
export function checkPayload(root: unknown): Payload | PayloadProblem {
  if (!isPlainObject(root)) return refuse(`payload must be a JSON object of namespaces or of strings (found ${jsonTypeName(root)})`);
  const flat = new Map<string, string>();
  const namespaces = new Map<string, Map<string, string>>();
  for (const name of Object.keys(root)) {
    const v = root[name];
    if (typeof v === 'string') {
      flat.set(name, v);
    } else if (isPlainObject(v)) {
      const keys = new Map<string, string>();
      for (const key of Object.keys(v)) {
        const leaf = v[key];
        if (typeof leaf !== 'string') {
          const found = isPlainObject(leaf) ? 'an object: payloads nest at most one level' : jsonTypeName(leaf);
          return refuse(`payload key ${quote(name)} / ${quote(key)} must be a string (found ${found})`);
        }
        keys.set(key, leaf);
      }
      namespaces.set(name, keys);
    } else {
      return refuse(`payload key ${quote(name)} must be a namespace object or a string (found ${jsonTypeName(v)})`);
    }
    const [firstFlat] = flat.keys();
    const [firstNamespace] = namespaces.keys();
    if (firstFlat !== undefined && firstNamespace !== undefined) {
      return refuse(
        `payload mixes flat keys and namespaces at the top level (${quote(firstFlat)} is a string, ${quote(firstNamespace)} is a namespace); use one or the other`,
      );
    }
  }
  return namespaces.size > 0 ? { kind: 'nested', namespaces } : { kind: 'flat', keys: flat };
}

function refuse(problem: string): PayloadProblem {
  return { problem };
}
