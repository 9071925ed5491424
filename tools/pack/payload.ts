/**
 * Payload checking for `clef-agent pack` (SPEC §2.1). The agent rejects an artifact whose decrypted
 * payload has the wrong shape, and by then nobody can read the plaintext to see why — so pack runs
 * the agent's own check (common/payload.ts) up front, with a message that names the offending key
 * and never its value.
 */

import { decodeUtf8 } from '../../common/json.js';
import { quote } from '../../common/display.js';
import { checkPayload } from '../../common/payload.js';
import { findRepeatedName } from '../../common/payload-names.js';
import { readPayloadValue } from '../../common/payload-value.js';
import { PackError } from './errors.js';

/** A valid payload: namespaces of string values, or flat string values, or `{}`. */
export type PackPayload = { readonly [namespace: string]: { readonly [key: string]: string } } | { readonly [key: string]: string };

/**
 * The plaintext pack encrypts: the payload as compact JSON, re-serialised from the checked value so
 * that what was validated is exactly what gets encrypted, whatever whitespace the input text had.
 * An object goes through JSON first too: the agent sees only its JSON form.
 */
export function payloadPlaintext(payload: PackPayload | string | Uint8Array): Buffer {
  const text = typeof payload === 'string' ? payload : payload instanceof Uint8Array ? decodePayloadBytes(payload) : JSON.stringify(payload);
  return Buffer.from(JSON.stringify(parsePayloadJson(text)), 'utf8');
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
  // An escaped member name is not JSON.parse's to decode on every runtime (common/payload-value.ts):
  // the text is valid JSON by now, so the careful reader gives the same value with the right names.
  if (text.includes('\\')) parsed = readPayloadValue(Buffer.from(text, 'utf8'))?.value;
  const checked = checkPayload(parsed);
  if ('problem' in checked) throw new PackError(checked.problem);
  // A name written twice: which value JSON.parse kept is not reliable (common/payload-names.ts),
  // and the author meant one of them. The agent refuses such a payload too.
  const repeat = findRepeatedName(Buffer.from(text, 'utf8'));
  if (repeat !== null) {
    const where = repeat.namespace === null ? '' : ` in namespace ${quote(repeat.namespace)}`;
    throw new PackError(`payload names ${quote(repeat.name)} more than once${where}; every key and namespace must be unique`);
  }
  return parsed as PackPayload;
}

/** Decode payload file bytes as the agent decodes a plaintext: strict UTF-8, a BOM dropped. */
export function decodePayloadBytes(bytes: Uint8Array): string {
  const text = decodeUtf8(bytes);
  if (text === null) throw new PackError('payload is not valid UTF-8');
  return text;
}
