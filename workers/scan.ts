/**
 * One pass over the decrypted payload bytes that builds nothing per key (SPEC §2.1, §5.2 JIT):
 * it checks the JSON syntax and UTF-8 exactly as `TextDecoder(fatal)` + `JSON.parse` would, counts
 * the keys (for CLEF_AGENT_MAX_KEYS, before the full parser allocates anything), and can locate
 * one `/v1/secrets/:key` name with the lookup rules of common/keys.ts.
 *
 * Repeated names: a payload that names a key or a namespace twice is refused (common/payload-names.ts
 * says why), but proving there is none would mean remembering every name. So the scan counts what
 * it passes — keys as written, top-level members — and `parsePayload` compares those counts with
 * what the parser kept: a repeat anywhere shows as a difference. The one repeat the lookup itself
 * meets (the name asked for, or the namespace holding it, seen twice) makes the verdict `shape`,
 * so the full check refuses the payload instead of the scan answering from it. Every artifact is
 * checked in full by the load task before JIT serves it, so `ok` from a scan of a served artifact
 * means valid.
 *
 * Key counting: every JSON value below the top level except namespace objects. For a valid
 * payload that is its keys as written (a duplicate counts twice); for anything else it bounds
 * what the full parser would allocate.
 */
import { qualifiedName } from '../common/artifact.js';
import { arrayIndex, CLOSE, FAIL, JsonCursor, OPEN, QUOTE, SLASH } from '../common/json-cursor.js';

export interface ScanResult {
  /** `ok`: a valid payload; `shape`: valid JSON the full check must judge; `syntax`: not UTF-8 JSON. */
  readonly verdict: 'ok' | 'shape' | 'syntax';
  /** Keys counted; when `verdict` is `syntax`, those before the error (a lower bound). */
  readonly keys: number;
  /** Top-level members as written (namespaces, or flat keys): with `keys`, what reveals a repeated name. */
  readonly members: number;
  /** A member name held an escape: the full parse must not be JSON.parse's (common/payload-value.ts). */
  readonly escapedNames: boolean;
  /** Present when a name was given and `verdict` is `ok`. */
  readonly lookup?: ScanLookup | undefined;
}

/** What `/v1/secrets/:key` answers, found the way `KeyIndex.lookup` finds it. */
export type ScanLookup =
  | { readonly kind: 'found'; readonly namespace: string | null; readonly key: string; readonly value: string }
  | { readonly kind: 'ambiguous'; readonly candidates: readonly string[] }
  | { readonly kind: 'missing' };

const UNDERSCORE = 0x5f;

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

class Scanner extends JsonCursor {
  private shapeOk = true;
  private members = 0;
  // Lookup state.
  private flatHit: Hit | null = null;
  private readonly records = new Map<number, NsRecord[]>();
  private readonly withHits: NsRecord[] = [];
  private nsOrdinal = 0;

  constructor(
    b: Uint8Array,
    private readonly name: string | undefined,
  ) {
    super(b);
  }

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
    const counts = { keys: this.keys, members: this.members, escapedNames: this.escapedName };
    if (!ok) return { verdict: 'syntax', ...counts };
    if (!this.shapeOk) return { verdict: 'shape', ...counts };
    return { verdict: 'ok', ...counts, lookup: this.name === undefined ? undefined : this.resolve(this.name) };
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
      this.members++;
      const c = b[this.p];
      if (c === QUOTE) {
        const v0 = this.p;
        if (!this.string()) return false;
        this.keys++;
        strings++;
        if (this.name !== undefined && this.equals(k0, k1, kPlain, this.name, 0)) {
          // The name asked for, twice: a repeat the full check refuses.
          if (this.flatHit !== null) this.shapeOk = false;
          this.flatHit = { key0: k0, key1: k1, val0: v0, val1: this.p };
        }
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
      // A namespace met twice that the lookup cares about: a repeat the full check refuses.
      if (rec !== undefined) this.shapeOk = false;
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
          // A second hit in one object is a repeated name: the full check refuses the payload.
          const v1 = this.p;
          if (pathOff !== FAIL && rec !== undefined && this.equals(key0, key1, keyPlain, name, pathOff)) {
            if (rec.path !== null) this.shapeOk = false;
            rec.path = { key0, key1, val0: v0, val1: v1 };
          }
          if (qualOff !== FAIL && rec !== undefined && this.equals(key0, key1, keyPlain, name, qualOff)) {
            if (rec.qualified !== null) this.shapeOk = false;
            rec.qualified = { key0, key1, val0: v0, val1: v1 };
          }
          if (this.equals(key0, key1, keyPlain, name, 0)) {
            rec ??= this.newRecord(hash, k0, k1, ordinal);
            if (rec.bare !== null) this.shapeOk = false;
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
}

function hits(recs: readonly NsRecord[], kind: 'qualified' | 'bare'): { ns: string; hit: Hit }[] {
  const out: { ns: string; hit: Hit }[] = [];
  for (const r of recs) {
    const hit = r[kind];
    if (hit !== null) out.push({ ns: r.name, hit });
  }
  return out;
}
