/**
 * One pass over the decrypted payload bytes that builds nothing per key (SPEC §2.1, §5.2 JIT):
 * it checks the JSON syntax and UTF-8 exactly as `TextDecoder(fatal)` + `JSON.parse` would, counts
 * the keys (for CLEF_AGENT_MAX_KEYS, before the full parser allocates anything), and can locate
 * one `/v1/secrets/:key` name with the lookup rules of common/keys.ts.
 *
 * Its shape check is stricter than the full one on purpose: `JSON.parse` keeps the *last* of
 * duplicate names, so `{"a":1,"a":"x"}` is a valid payload that a scanner cannot prove without
 * remembering every name. Anything the scanner does not accept as a well-formed payload
 * (`verdict !== 'ok'`) is handed to the full parser, which has the last word on it; a payload it
 * accepts is valid whatever duplicates it holds (same-kind values stay the same kind).
 *
 * Key counting: every JSON value below the top level except namespace objects. For a valid
 * payload that is its keys as written (a duplicate counts twice); for anything else it bounds
 * what the full parser would allocate.
 */
import { qualifiedName } from '../common/artifact.js';

export interface ScanResult {
  /** `ok`: a valid payload; `shape`: valid JSON the full check must judge; `syntax`: not UTF-8 JSON. */
  readonly verdict: 'ok' | 'shape' | 'syntax';
  /** Keys counted; when `verdict` is `syntax`, those before the error (a lower bound). */
  readonly keys: number;
  /** Present when a name was given and `verdict` is `ok`. */
  readonly lookup?: ScanLookup | undefined;
}

/** What `/v1/secrets/:key` answers, found the way `KeyIndex.lookup` finds it. */
export type ScanLookup =
  | { readonly kind: 'found'; readonly namespace: string | null; readonly key: string; readonly value: string }
  | { readonly kind: 'ambiguous'; readonly candidates: readonly string[] }
  | { readonly kind: 'missing' };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
const UNDERSCORE = 0x5f;
const OPEN = 0x7b;
const CLOSE = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const FAIL = -1;

/** A matched key: byte ranges of its string tokens (quotes included) in the plaintext. */
interface Hit {
  readonly key0: number;
  readonly key1: number;
  readonly val0: number;
  readonly val1: number;
}

/**
 * A namespace that holds a hit, or whose name is `name`'s prefix up to `/` or `__` (its order
 * decides a clash of two `ns/KEY` readings). Only these few get a record, never every namespace.
 */
interface NsRecord {
  readonly name: string;
  readonly hash: number;
  /** `Object.keys` order of JSON.parse's result: array-index names first, then first occurrence. */
  readonly order: number;
  path: Hit | null;
  qualified: Hit | null;
  bare: Hit | null;
}

/** Scans `b`; with `name`, also finds what `/v1/secrets/<name>` answers. */
export function scanPayload(b: Uint8Array, name?: string): ScanResult {
  return new Scanner(b, name).run();
}

class Scanner {
  private p = 0;
  private keys = 0;
  private shapeOk = true;
  /** Set by `string()`: the token was plain ASCII without escapes (bytes = code units). */
  private plain = true;
  // The code-unit cursor over one string token (see `units`).
  private up = 0;
  private upEnd = 0;
  private low = -1;
  // Lookup state.
  private flatHit: Hit | null = null;
  private readonly records = new Map<number, NsRecord[]>();
  private readonly withHits: NsRecord[] = [];
  private nsOrdinal = 0;

  constructor(
    private readonly b: Uint8Array,
    private readonly name: string | undefined,
  ) {}

  run(): ScanResult {
    const b = this.b;
    // TextDecoder drops one leading byte order mark.
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) this.p = 3;
    this.ws();
    let ok: boolean;
    if (b[this.p] === OPEN) {
      ok = this.root();
    } else {
      this.shapeOk = false;
      ok = this.skipValue();
      this.keys = Math.max(0, this.keys - 1);
    }
    if (ok) {
      this.ws();
      ok = this.p === b.length;
    }
    if (!ok) return { verdict: 'syntax', keys: this.keys };
    if (!this.shapeOk) return { verdict: 'shape', keys: this.keys };
    return { verdict: 'ok', keys: this.keys, lookup: this.name === undefined ? undefined : this.resolve(this.name) };
  }

  // ── Payload structure ──────────────────────────────────────────────────────────────────────────

  /** The top-level object: all string members (flat) or all object members (namespaces). */
  private root(): boolean {
    const b = this.b;
    this.p++;
    this.ws();
    if (b[this.p] === CLOSE) {
      this.p++;
      return true;
    }
    let strings = 0;
    let objects = 0;
    for (;;) {
      const k0 = this.p;
      if (!this.memberName()) return false;
      const k1 = this.keyEnd;
      const kPlain = this.keyPlain;
      const c = b[this.p];
      if (c === QUOTE) {
        const v0 = this.p;
        if (!this.string()) return false;
        this.keys++;
        strings++;
        if (this.name !== undefined && this.equals(k0, k1, kPlain, this.name, 0)) this.flatHit = { key0: k0, key1: k1, val0: v0, val1: this.p };
      } else if (c === OPEN) {
        objects++;
        if (!this.namespace(k0, k1)) return false;
      } else {
        this.shapeOk = false;
        if (!this.skipValue()) return false;
      }
      if (strings > 0 && objects > 0) this.shapeOk = false;
      if (!this.next(CLOSE)) return false;
      if (this.done) return true;
    }
  }

  /** One namespace object; `k0..k1` is its name token. */
  private namespace(k0: number, k1: number): boolean {
    const b = this.b;
    const name = this.name;
    const ordinal = this.nsOrdinal++;
    let rec: NsRecord | undefined;
    let pathOff = FAIL;
    let qualOff = FAIL;
    let hash = 0;
    if (name !== undefined) {
      hash = this.hash(k0, k1);
      rec = this.findRecord(hash, k0, k1);
      // JSON.parse keeps the last of two same-named namespaces: whatever the earlier one matched is gone.
      if (rec !== undefined) rec.path = rec.qualified = rec.bare = null;
      const l = this.prefixLength(k0, k1, name);
      if (l !== FAIL) {
        if (name.charCodeAt(l) === SLASH) pathOff = l + 1;
        else if (name.charCodeAt(l) === UNDERSCORE && name.charCodeAt(l + 1) === UNDERSCORE) qualOff = l + 2;
      }
      if (rec === undefined && (pathOff !== FAIL || qualOff !== FAIL)) rec = this.newRecord(hash, k0, k1, ordinal);
    }
    this.p++;
    this.ws();
    if (b[this.p] === CLOSE) {
      this.p++;
      return true;
    }
    for (;;) {
      const key0 = this.p;
      if (!this.memberName()) return false;
      const key1 = this.keyEnd;
      const keyPlain = this.keyPlain;
      if (b[this.p] === QUOTE) {
        const v0 = this.p;
        if (!this.string()) return false;
        this.keys++;
        if (name !== undefined) {
          // Within one object the last duplicate wins, as in JSON.parse: a later hit replaces.
          const v1 = this.p;
          if (pathOff !== FAIL && rec !== undefined && this.equals(key0, key1, keyPlain, name, pathOff)) rec.path = { key0, key1, val0: v0, val1: v1 };
          if (qualOff !== FAIL && rec !== undefined && this.equals(key0, key1, keyPlain, name, qualOff)) rec.qualified = { key0, key1, val0: v0, val1: v1 };
          if (this.equals(key0, key1, keyPlain, name, 0)) {
            rec ??= this.newRecord(hash, k0, k1, ordinal);
            rec.bare = { key0, key1, val0: v0, val1: v1 };
          }
        }
      } else {
        this.shapeOk = false;
        if (!this.skipValue()) return false;
      }
      if (!this.next(CLOSE)) return false;
      if (this.done) return true;
    }
  }

  private newRecord(hash: number, k0: number, k1: number, ordinal: number): NsRecord {
    const nsName = this.decode(k0, k1);
    const index = arrayIndex(nsName);
    const rec: NsRecord = { name: nsName, hash, order: index !== FAIL ? index : 2 ** 32 + ordinal, path: null, qualified: null, bare: null };
    const list = this.records.get(hash);
    if (list === undefined) this.records.set(hash, [rec]);
    else list.push(rec);
    this.withHits.push(rec);
    return rec;
  }

  private findRecord(hash: number, k0: number, k1: number): NsRecord | undefined {
    const list = this.records.get(hash);
    if (list === undefined) return undefined;
    for (const r of list) if (this.equals(k0, k1, false, r.name, 0)) return r;
    return undefined;
  }

  /** The answer, by the rules and order of `KeyIndex.lookup` (common/keys.ts). */
  private resolve(name: string): ScanLookup {
    if (name.length === 0) return { kind: 'missing' };
    const flat = this.flatHit;
    if (flat !== null) return this.found(null, flat);
    const recs = this.withHits;
    if (name.includes('/')) {
      // Two `ns/KEY` readings of one name: the later namespace in key order wins, as `Map.set` did.
      let best: NsRecord | undefined;
      for (const r of recs) if (r.path !== null && (best === undefined || r.order > best.order)) best = r;
      if (best?.path) return this.found(best.name, best.path);
    }
    // Two entries can share a qualified name (`a__b`/`c` and `a`/`b__c`): offer their `ns/KEY` forms.
    const qualified = hits(recs, 'qualified');
    const [q] = qualified;
    if (q !== undefined) {
      if (qualified.length === 1) return this.found(q.ns, q.hit);
      return { kind: 'ambiguous', candidates: qualified.map((e) => `${e.ns}/${this.decode(e.hit.key0, e.hit.key1)}`).sort() };
    }
    const bare = hits(recs, 'bare');
    const [one] = bare;
    if (one === undefined) return { kind: 'missing' };
    if (bare.length === 1) return this.found(one.ns, one.hit);
    return { kind: 'ambiguous', candidates: bare.map((e) => qualifiedName(e.ns, name)).sort() };
  }

  private found(namespace: string | null, h: Hit): ScanLookup {
    return { kind: 'found', namespace, key: this.decode(h.key0, h.key1), value: this.decode(h.val0, h.val1) };
  }

  // ── Generic JSON ───────────────────────────────────────────────────────────────────────────────

  /** After `memberName()`: where the name token ended, and whether it was plain ASCII. */
  private keyEnd = 0;
  private keyPlain = true;
  /** After `next()`: the container was closed. */
  private done = false;

  /** `"name"` `:` and the whitespace around, leaving `p` at the value. */
  private memberName(): boolean {
    if (this.b[this.p] !== QUOTE || !this.string()) return false;
    this.keyEnd = this.p;
    this.keyPlain = this.plain;
    this.ws();
    if (this.b[this.p] !== COLON) return false;
    this.p++;
    this.ws();
    return true;
  }

  /** After a member: `,` and the next name's start, or the closing byte (`done`). */
  private next(close: number): boolean {
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
  private skipValue(): boolean {
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

  private literal(): boolean {
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
  private number(): boolean {
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

  private ws(): void {
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
  private string(): boolean {
    const b = this.b;
    const n = b.length;
    let p = this.p + 1;
    let plain = true;
    for (;;) {
      if (p >= n) return false;
      const c = b[p] as number;
      if (c === QUOTE) break;
      if (c === BACKSLASH) {
        plain = false;
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
  private equals(t0: number, t1: number, plain: boolean, s: string, from: number): boolean {
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
  private prefixLength(t0: number, t1: number, s: string): number {
    this.units(t0, t1);
    let i = 0;
    for (let u = this.unit(); u !== FAIL; u = this.unit()) {
      if (i >= s.length || s.charCodeAt(i) !== u) return FAIL;
      i++;
    }
    return i;
  }

  /** FNV-1a over the code units: only to find a namespace's record again, collisions are compared. */
  private hash(t0: number, t1: number): number {
    this.units(t0, t1);
    let h = 0x811c9dc5;
    for (let u = this.unit(); u !== FAIL; u = this.unit()) h = Math.imul(h ^ u, 0x01000193);
    return h >>> 0;
  }

  /** A string token as JSON.parse reads it: only for the few names and the one value answered. */
  private decode(t0: number, t1: number): string {
    const b = this.b;
    return JSON.parse(Buffer.from(b.buffer, b.byteOffset + t0, t1 - t0).toString('utf8')) as string;
  }
}

function hits(recs: readonly NsRecord[], kind: 'qualified' | 'bare'): { ns: string; hit: Hit }[] {
  const out: { ns: string; hit: Hit }[] = [];
  for (const r of recs) {
    const hit = r[kind];
    if (hit !== null) out.push({ ns: r.name, hit });
  }
  return out;
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
function arrayIndex(s: string): number {
  if (s.length === 0 || s.length > 10 || !/^(0|[1-9][0-9]*)$/.test(s)) return FAIL;
  const n = Number(s);
  return n <= 2 ** 32 - 2 ? n : FAIL;
}
