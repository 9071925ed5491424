/**
 * The payload's JSON value, read without trusting `JSON.parse` with escaped member names.
 *
 * V8 from Node 24 on (seen on 26.10, which the image and the binary ship) can decode an escaped
 * object key wrongly: it looks the key up among the property maps earlier parses left behind by
 * its raw source text, so after enough parses `"\u0061"` may come back as `"\\"`, or the second of
 * two same-named keys may be dropped (nodejs/node#63785, V8 issue 521080746). Values and keys
 * without escapes are not affected. A secret served under the wrong name, or the wrong value under
 * the right one, is not acceptable, so a text whose member names hold an escape is read here
 * instead: names and values are decoded one string token at a time (a lone string literal is not
 * subject to the bug), and objects get their members by assignment, which keeps JSON.parse's
 * semantics (the last of two same-named members wins, `Object.keys` order, `__proto__` an own
 * member) without a map lookup by source text.
 *
 * Only the two levels a payload has are built; anything deeper is checked and replaced by a
 * stand-in of the same JSON type, which is all the shape check (payload.ts) looks at.
 */
import { JsonCursor, OPEN, QUOTE } from './json-cursor.js';

const OPEN_ARRAY = 0x5b;

/** The JSON value of UTF-8 bytes, or null when they are not UTF-8 JSON (as `parseJsonBytes`). */
export function readPayloadValue(bytes: Uint8Array): { readonly value: unknown } | null {
  return new ValueReader(bytes).run();
}

class ValueReader extends JsonCursor {
  run(): { readonly value: unknown } | null {
    const b = this.b;
    // TextDecoder drops one leading byte order mark.
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) this.p = 3;
    this.ws();
    const value = this.value(0);
    if (value === FAILED) return null;
    this.ws();
    return this.p === b.length ? { value } : null;
  }

  /** The value at `p`; objects are built down to `depth` 2 (a namespace), stand-ins below. */
  private value(depth: number): unknown {
    const b = this.b;
    const c = b[this.p];
    if (c === QUOTE) {
      const t0 = this.p;
      return this.string() ? this.decode(t0, this.p) : FAILED;
    }
    if (c === OPEN && depth < 2) return this.object(depth);
    const start = this.p;
    if (!this.skipValue()) return FAILED;
    if (c === OPEN) return {};
    if (c === OPEN_ARRAY) return [];
    // A literal or a number: JSON.parse of its few bytes is exact.
    return JSON.parse(Buffer.from(b.buffer, b.byteOffset + start, this.p - start).toString('latin1')) as unknown;
  }

  private object(depth: number): unknown {
    // A null prototype: assigning `__proto__` makes an own member, as JSON.parse does.
    const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
    const read = this.eachMember((name) => {
      const v = this.value(depth + 1);
      if (v === FAILED) return false;
      out[name] = v;
      return true;
    });
    return read ? out : FAILED;
  }
}

const FAILED: unique symbol = Symbol('not JSON');
