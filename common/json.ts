/**
 * JSON helpers for both threads and the pack tool: decoding JSON text from bytes, and telling a
 * JSON object apart from the other JSON values.
 */

/** A JSON object: not null, not an array. (Every object `JSON.parse` returns is a plain one.) */
export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A value's JSON type for a message, without the value itself: "null", "an array", "a number", … */
export function jsonTypeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return 'an object';
  return `a ${typeof v}`;
}

/**
 * Strict UTF-8 text of JSON bytes (artifacts and payloads are UTF-8 JSON), or null when the bytes
 * are not UTF-8. A leading byte order mark is tolerated and dropped, as RFC 8259 allows parsers to.
 */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/** The JSON value of UTF-8 bytes (see `decodeUtf8`), or null when they are not UTF-8 JSON. */
export function parseJsonBytes(bytes: Uint8Array): { readonly value: unknown } | null {
  const text = decodeUtf8(bytes);
  if (text === null) return null;
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return null;
  }
}
