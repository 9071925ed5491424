/**
 * The decrypted payload (SPEC §2.1, checked by common/payload.ts) and the snapshot built from it.
 */
import { qualifiedName } from '../common/artifact.js';
import { parseJsonBytes } from '../common/json.js';
import { DEFAULT_MAX_KEYS } from '../common/limits.js';
import { checkPayload, type Payload } from '../common/payload.js';
import { findRepeatedName } from '../common/payload-names.js';
import { readPayloadValue } from '../common/payload-value.js';
import { quote } from '../common/display.js';
import type { SnapshotEntry, SnapshotWire, Span, TaskFailure } from '../common/protocol.js';
import { taskFailure } from '../common/task-failure.js';
import { scanPayload, type ScanResult } from './scan.js';

/**
 * The plaintext as a payload, or `invalid_payload` with a message that names keys, never values,
 * or `too_many_keys`: counted by a scan that allocates nothing per key, before JSON.parse does.
 * A payload that names a key or a namespace twice is refused (common/payload-names.ts): the scan's
 * counts of what was written, compared with what the parser kept, show a repeat; only then are
 * the names decoded to say which. `scan` is the caller's, when it already scanned these bytes.
 */
export function parsePayload(plaintext: Uint8Array, maxKeys: number = DEFAULT_MAX_KEYS, scan: ScanResult = scanPayload(plaintext)): Payload | TaskFailure {
  const over = keyLimit(scan, maxKeys);
  if (over !== undefined) return over;
  const payload = parseChecked(plaintext, scan.escapedNames);
  if ('ok' in payload) return payload;
  const [members, keys] = counts(payload);
  if (members === scan.members && keys === scan.keys) return payload;
  const repeat = findRepeatedName(plaintext);
  const what =
    repeat === null
      ? 'names a key or a namespace more than once'
      : repeat.namespace === null
        ? `names ${payload.kind === 'flat' ? 'key' : 'namespace'} ${quote(repeat.name)} more than once`
        : `names key ${quote(repeat.name)} more than once in namespace ${quote(repeat.namespace)}`;
  return taskFailure('invalid_payload', `the decrypted payload ${what}; every name must be unique (which of two values a JSON parser keeps is not reliable)`);
}

/** Top-level members and keys the parser kept, to compare with what the scan saw written. */
function counts(payload: Payload): [members: number, keys: number] {
  if (payload.kind === 'flat') return [payload.keys.size, payload.keys.size];
  let keys = 0;
  for (const ns of payload.namespaces.values()) keys += ns.size;
  return [payload.namespaces.size, keys];
}

/** `too_many_keys` when a scan counted more than `maxKeys`. */
export function keyLimit(scan: ScanResult, maxKeys: number): TaskFailure | undefined {
  if (scan.keys <= maxKeys) return undefined;
  const count = scan.verdict === 'syntax' ? `at least ${scan.keys}` : String(scan.keys);
  return taskFailure('too_many_keys', `the decrypted payload has ${count} keys, more than CLEF_AGENT_MAX_KEYS allows (${maxKeys})`);
}

/**
 * The full parse and shape check (common/payload.ts), without the key count or the repeated-name
 * check: what `parsePayload` builds on, and the benchmark's baseline. A text with an escaped
 * member name is not given to JSON.parse (common/payload-value.ts); `escapedNames` is the scan's
 * word on that, or, without a scan, any backslash at all.
 */
export function parseChecked(plaintext: Uint8Array, escapedNames: boolean = plaintext.includes(BACKSLASH)): Payload | TaskFailure {
  const json = escapedNames ? readPayloadValue(plaintext) : parseJsonBytes(plaintext);
  if (json === null) return taskFailure('invalid_payload', 'the decrypted payload is not valid UTF-8 JSON');
  const payload = checkPayload(json.value);
  return 'problem' in payload ? taskFailure('invalid_payload', `the decrypted ${payload.problem}`) : payload;
}

const BACKSLASH = 0x5c;

/**
 * Lays every secret-bearing body out in one arena (see `SnapshotWire`). Strings are written
 * straight into the arena, so no other Buffer ever holds the serialized secrets.
 */
export function buildSnapshot(payload: Payload): SnapshotWire {
  const plan = new ArenaPlan();
  const flat: FlatEntry[] = [];
  const secretsStart = plan.size;
  writePayload(plan, payload, (e) => flat.push(e));
  const secrets = plan.span(secretsStart);

  // Two entries may share a qualified name (`a__b`/`c` and `a`/`b__c`); both are kept and the
  // main thread's key index (common/keys.ts) tells them apart by their `ns/KEY` form.
  const qualified = flat.map((e) => qualifiedName(e.ns, e.key));
  const keysStart = plan.size;
  plan.add(keysJson(qualified));
  const keys = plan.span(keysStart);

  const entries: SnapshotEntry[] = flat.map((e, i) => {
    const q = qualified[i] as string;
    const jsonStart = plan.size;
    writeEntryJson(plan, q, e.json);
    const json = plan.span(jsonStart);
    const valueStart = plan.size;
    plan.add(e.value);
    return { qualified: q, namespace: e.ns, key: e.key, json, value: plan.span(valueStart) };
  });
  return { arena: plan.write(), secrets, keys, entries };
}

/** One secret as the payload walk yields it (`json` is the value already JSON-encoded). */
export interface FlatEntry {
  readonly ns: string | null;
  readonly key: string;
  readonly value: string;
  readonly json: string;
}

/**
 * The `/v1/secrets` body: compact JSON of the payload in its key order. The one serializer both
 * modes use, so cached and JIT answers are byte-identical.
 */
export function writePayload(plan: ArenaPlan, payload: Payload, each: (e: FlatEntry) => void): void {
  plan.add('{');
  if (payload.kind === 'flat') {
    writeObject(plan, payload.keys, (key, value, json) => each({ ns: null, key, value, json }));
  } else {
    let first = true;
    for (const [ns, keys] of payload.namespaces) {
      plan.add(`${first ? '' : ','}${JSON.stringify(ns)}:{`);
      writeObject(plan, keys, (key, value, json) => each({ ns, key, value, json }));
      plan.add('}');
      first = false;
    }
  }
  plan.add('}');
}

/** The `/v1/keys` body. Default sort compares UTF-16 code units: stable and locale-independent. */
export function keysJson(qualified: readonly string[]): string {
  return JSON.stringify([...qualified].sort());
}

/** The `/v1/secrets/:key` JSON body: `{"key":"<qualified>","value":<json>}`. */
export function writeEntryJson(plan: ArenaPlan, qualified: string, valueJson: string): void {
  plan.add(`{"key":${JSON.stringify(qualified)},"value":`);
  plan.add(valueJson);
  plan.add('}');
}

function writeObject(plan: ArenaPlan, keys: ReadonlyMap<string, string>, each: (key: string, value: string, json: string) => void): void {
  let first = true;
  for (const [key, value] of keys) {
    const json = JSON.stringify(value);
    plan.add(`${first ? '' : ','}${JSON.stringify(key)}:`);
    plan.add(json);
    each(key, value, json);
    first = false;
  }
}

/** Collects string pieces and their UTF-8 offsets, then writes them into one exact-size arena. */
export class ArenaPlan {
  private readonly pieces: string[] = [];
  size = 0;

  add(s: string): void {
    this.pieces.push(s);
    this.size += Buffer.byteLength(s, 'utf8');
  }

  span(start: number): Span {
    return { offset: start, length: this.size - start };
  }

  /**
   * `new Uint8Array(n)` owns a buffer of exactly `n` bytes (unlike `Buffer.from`/`allocUnsafe`,
   * which may hand out a slice of a shared pool), so the whole buffer can be transferred and wiped.
   */
  write(): Uint8Array {
    const arena = new Uint8Array(this.size);
    const enc = new TextEncoder();
    let off = 0;
    for (const p of this.pieces) {
      off += enc.encodeInto(p, arena.subarray(off)).written;
    }
    if (off !== this.size) throw new Error('snapshot arena size mismatch');
    this.pieces.length = 0;
    return arena;
  }
}
