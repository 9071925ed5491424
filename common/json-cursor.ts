/**
 * A cursor over JSON bytes that checks what it passes exactly as `TextDecoder(fatal)` + `JSON.parse`
 * would (syntax, escapes, strict UTF-8) and compares string tokens with JS strings code unit by code
 * unit, without decoding them into strings. The workers' payload scanner (workers/scan.ts) and the
 * duplicate-name finder (payload-names.ts, shared with pack) walk the payload shape on top of it;
 * everything here is shape-agnostic.
 */

export const QUOTE = 0x22;
const BACKSLASH = 0x5c;
export const SLASH = 0x2f;
export const OPEN = 0x7b;
export const CLOSE = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
export const FAIL = -1;

export class JsonCursor {
  protected p = 0;
  /** Values counted by `skipValue`, and by subclasses for the values they read themselves. */
  protected keys = 0;
  /** Set by `string()`: the token was plain ASCII without escapes (bytes = code units). */
  protected plain = true;
  // The code-unit cursor over one string token (see `units`).
  private up = 0;
  private upEnd = 0;
  private low = -1;

  constructor(protected readonly b: Uint8Array) {}

  /** After `memberName()`: where the name token ended, and whether it was plain ASCII. */
  protected keyEnd = 0;
  protected keyPlain = true;
  /**
   * Some member name so far held an escape (`\n`, `\"`, `\u0061`…): JSON.parse is not to be
   * trusted with such a text on every runtime (payload-value.ts says why).
   */
  escapedName = false;
  /** Set by `string()`: the token held an escape. */
  protected escaped = false;
  /** After `next()`: the container was closed. */
  protected done = false;

  /** `"name"` `:` and the whitespace around, leaving `p` at the value. */
  protected memberName(): boolean {
    if (this.b[this.p] !== QUOTE || !this.string()) return false;
    this.keyEnd = this.p;
    this.keyPlain = this.plain;
    if (this.escaped) this.escapedName = true;
    this.ws();
    if (this.b[this.p] !== COLON) return false;
    this.p++;
    this.ws();
    return true;
  }

  /**
   * The object at `p`, member by member: `member(name)` is called with `p` at the member's value,
   * reads it and returns false to stop. True once the object is closed; false when stopped or when
   * the text is not JSON. Decodes every name: for walks that need them all, not the scanner's.
   */
  protected eachMember(member: (name: string) => boolean): boolean {
    this.p++;
    this.ws();
    if (this.b[this.p] === CLOSE) {
      this.p++;
      return true;
    }
    for (;;) {
      const k0 = this.p;
      if (!this.memberName()) return false;
      if (!member(this.decode(k0, this.keyEnd))) return false;
      if (!this.next(CLOSE)) return false;
      if (this.done) return true;
    }
  }

  /** After a member: `,` and the next name's start, or the closing byte (`done`). */
  protected next(close: number): boolean {
    this.ws();
    const c = this.b[this.p];
    this.p++;
    if (c === close) {
      this.done = true;
      return true;
    }
    this.done = false;
    if (c !== COMMA) return false;
    this.ws();
    return true;
  }

  /** Any JSON value, iteratively (no recursion, so deep nesting cannot overflow), counting each. */
  protected skipValue(): boolean {
    const b = this.b;
    const stack: number[] = [];
    for (;;) {
      this.ws();
      this.keys++;
      const c = b[this.p];
      if (c === QUOTE) {
        if (!this.string()) return false;
      } else if (c === OPEN || c === OPEN_ARRAY) {
        this.p++;
        this.ws();
        if (b[this.p] === (c === OPEN ? CLOSE : CLOSE_ARRAY)) {
          this.p++;
        } else {
          stack.push(c);
          if (c === OPEN && !this.memberName()) return false;
          continue;
        }
      } else if (!this.literal() && !this.number()) {
        return false;
      }
      for (;;) {
        const top = stack[stack.length - 1];
        if (top === undefined) return true;
        this.ws();
        const d = b[this.p];
        if (d === COMMA) {
          this.p++;
          this.ws();
          if (top === OPEN && !this.memberName()) return false;
          break;
        }
        if (d !== (top === OPEN ? CLOSE : CLOSE_ARRAY)) return false;
        this.p++;
        stack.pop();
      }
    }
  }

  protected literal(): boolean {
    const b = this.b;
    const p = this.p;
    const c = b[p];
    const word = c === 0x74 ? 'true' : c === 0x66 ? 'false' : c === 0x6e ? 'null' : '';
    if (word === '') return false;
    for (let i = 1; i < word.length; i++) if (b[p + i] !== word.charCodeAt(i)) return false;
    this.p = p + word.length;
    return true;
  }

  /** RFC 8259 number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` */
  protected number(): boolean {
    const b = this.b;
    let p = this.p;
    if (b[p] === 0x2d) p++;
    if (b[p] === 0x30) p++;
    else if (isDigit(b[p])) while (isDigit(b[p])) p++;
    else return false;
    if (b[p] === 0x2e) {
      p++;
      if (!isDigit(b[p])) return false;
      while (isDigit(b[p])) p++;
    }
    if (b[p] === 0x65 || b[p] === 0x45) {
      p++;
      if (b[p] === 0x2b || b[p] === 0x2d) p++;
      if (!isDigit(b[p])) return false;
      while (isDigit(b[p])) p++;
    }
    this.p = p;
    return true;
  }

  protected ws(): void {
    const b = this.b;
    let p = this.p;
    for (;;) {
      const c = b[p];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) p++;
      else break;
    }
    this.p = p;
  }

  /** A string token at `p` (its `"`), validated: escapes, no raw control characters, strict UTF-8. */
  protected string(): boolean {
    const b = this.b;
    const n = b.length;
    let p = this.p + 1;
    let plain = true;
    let escaped = false;
    for (;;) {
      if (p >= n) return false;
      const c = b[p] as number;
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        plain = false;
        escaped = true;
        const e = b[p + 1];
        if (e === 0x75) {
          for (let i = 2; i < 6; i++) if (hexValue(b[p + i]) < 0) return false;
          p += 6;
        } else if (e === QUOTE || e === BACKSLASH || e === SLASH || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          p += 2;
        } else {
          return false;
        }
      } else if (c < 0x20) {
        return false;
      } else if (c < 0x80) {
        p++;
      } else {
        plain = false;
        p = utf8Next(b, p);
        if (p === FAIL) return false;
      }
    }
    this.p = p + 1;
    this.plain = plain;
    this.escaped = escaped;
    return true;
  }

  // ── Comparing string tokens without decoding them into strings ─────────────────────────────────

  /** Starts the code-unit cursor over the token `t0..t1` (quotes included, already validated). */
  private units(t0: number, t1: number): void {
    this.up = t0 + 1;
    this.upEnd = t1 - 1;
    this.low = -1;
  }

  /** The next UTF-16 code unit of the token, as JSON.parse would produce it; -1 at its end. */
  private unit(): number {
    if (this.low >= 0) {
      const l = this.low;
      this.low = -1;
      return l;
    }
    const b = this.b;
    const p = this.up;
    if (p >= this.upEnd) return FAIL;
    const c = b[p] as number;
    if (c < 0x80) {
      if (c !== BACKSLASH) {
        this.up = p + 1;
        return c;
      }
      const e = b[p + 1] as number;
      if (e === 0x75) {
        this.up = p + 6;
        return (hexValue(b[p + 2]) << 12) | (hexValue(b[p + 3]) << 8) | (hexValue(b[p + 4]) << 4) | hexValue(b[p + 5]);
      }
      this.up = p + 2;
      return e === 0x62 ? 0x08 : e === 0x66 ? 0x0c : e === 0x6e ? 0x0a : e === 0x72 ? 0x0d : e === 0x74 ? 0x09 : e;
    }
    let cp: number;
    if (c < 0xe0) {
      cp = ((c & 0x1f) << 6) | ((b[p + 1] as number) & 0x3f);
      this.up = p + 2;
    } else if (c < 0xf0) {
      cp = ((c & 0x0f) << 12) | (((b[p + 1] as number) & 0x3f) << 6) | ((b[p + 2] as number) & 0x3f);
      this.up = p + 3;
    } else {
      cp = ((c & 0x07) << 18) | (((b[p + 1] as number) & 0x3f) << 12) | (((b[p + 2] as number) & 0x3f) << 6) | ((b[p + 3] as number) & 0x3f);
      this.up = p + 4;
    }
    if (cp < 0x10000) return cp;
    cp -= 0x10000;
    this.low = 0xdc00 | (cp & 0x3ff);
    return 0xd800 | (cp >> 10);
  }

  /** Whether the token's text equals `s.slice(from)`; `plain`: the token is ASCII without escapes. */
  protected equals(t0: number, t1: number, plain: boolean, s: string, from: number): boolean {
    if (plain) {
      const len = t1 - t0 - 2;
      if (len !== s.length - from) return false;
      const b = this.b;
      for (let i = 0; i < len; i++) if (b[t0 + 1 + i] !== s.charCodeAt(from + i)) return false;
      return true;
    }
    this.units(t0, t1);
    let i = from;
    for (let u = this.unit(); u !== FAIL; u = this.unit()) {
      if (i >= s.length || s.charCodeAt(i) !== u) return false;
      i++;
    }
    return i === s.length;
  }

  /** The token's length in code units when it is a prefix of `s`, else -1. */
  protected prefixLength(t0: number, t1: number, s: string): number {
    this.units(t0, t1);
    let i = 0;
    for (let u = this.unit(); u !== FAIL; u = this.unit()) {
      if (i >= s.length || s.charCodeAt(i) !== u) return FAIL;
      i++;
    }
    return i;
  }

  /** FNV-1a over the code units: only to find a namespace's record again, collisions are compared. */
  protected hash(t0: number, t1: number): number {
    this.units(t0, t1);
    let h = 0x811c9dc5;
    for (let u = this.unit(); u !== FAIL; u = this.unit()) h = Math.imul(h ^ u, 0x01000193);
    return h >>> 0;
  }

  /** A string token as JSON.parse reads it: only for the few names and the one value answered. */
  protected decode(t0: number, t1: number): string {
    const b = this.b;
    return JSON.parse(Buffer.from(b.buffer, b.byteOffset + t0, t1 - t0).toString('utf8')) as string;
  }
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function hexValue(c: number | undefined): number {
  if (c === undefined) return FAIL;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x61 + 10;
  return FAIL;
}

/**
 * The index after one UTF-8 sequence at `p`, or -1: exactly the sequences a fatal `TextDecoder`
 * accepts (no overlongs, no surrogates, nothing above U+10FFFF).
 */
function utf8Next(b: Uint8Array, p: number): number {
  const c = b[p] as number;
  if (c >= 0xc2 && c <= 0xdf) return inRange(b[p + 1], 0x80, 0xbf) ? p + 2 : FAIL;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return inRange(b[p + 1], lo, hi) && inRange(b[p + 2], 0x80, 0xbf) ? p + 3 : FAIL;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return inRange(b[p + 1], lo, hi) && inRange(b[p + 2], 0x80, 0xbf) && inRange(b[p + 3], 0x80, 0xbf) ? p + 4 : FAIL;
  }
  return FAIL;
}

function inRange(x: number | undefined, lo: number, hi: number): boolean {
  return x !== undefined && x >= lo && x <= hi;
}

/** A canonical array index (`0`…`4294967294`), which `Object.keys` lists first, ascending. */
export function arrayIndex(s: string): number {
  if (s.length === 0 || s.length > 10 || !/^(0|[1-9][0-9]*)$/.test(s)) return FAIL;
  const n = Number(s);
  return n <= 2 ** 32 - 2 ? n : FAIL;
}
