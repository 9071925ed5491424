/**
 * The JIT `serve` task (SPEC §5.2): decrypt the artifact that was current when the request arrived
 * and build exactly one response body. The plaintext is wiped before the task returns; the body
 * is moved to the main thread, which writes it and drops it.
 */
import { KeyIndex } from '../common/keys.js';
import { qualifiedName } from '../common/artifact.js';
import { DEFAULT_MAX_KEYS } from '../common/limits.js';
import type { ServeRequest, ServeResult, ServeTask, WorkerInit } from '../common/protocol.js';
import { knownCanonical, rememberCanonical } from './canonical.js';
import { decryptCiphertextFast } from './decrypt/age.js';
import { openKms } from './decrypt/kms.js';
import type { Payload } from '../common/payload.js';
import { ArenaPlan, keyLimit, keysJson, parsePayload, writeEntryJson, writePayload, type FlatEntry } from './payload.js';
import { scanPayload } from './scan.js';
import { keepSpares, plaintextBuffer, reuseWiped } from './spares.js';

export async function serve(task: ServeTask, init: WorkerInit): Promise<ServeResult> {
  keepSpares(task.spare);
  // KMS artifacts: a KMS Decrypt on every request, no data key kept between them (SPEC §5.2).
  const kms = task.artifact.kms;
  // age plaintexts go into a spare buffer when one of their size came back (spares.ts).
  const plaintext =
    kms !== undefined ? await openKms(kms) : await decryptCiphertextFast(task.artifact.ciphertextHash, task.artifact.ageFile, init, plaintextBuffer);
  if ('ok' in plaintext) return plaintext;
  // The plaintext is proven to be the `/v1/secrets` body already (canonical.ts): it becomes the
  // body, moved to the main thread, which wipes it once written.
  const scoped = task.request.namespaces !== undefined;
  const canonical = task.request.route === 'secrets' && !scoped ? knownCanonical(task.artifact) : false;
  if (canonical === true) return json(ownedBody(plaintext));
  const maxKeys = init.maxKeys ?? DEFAULT_MAX_KEYS;
  try {
    const r = task.request;
    if (r.namespaces !== undefined) return scopedAnswer(plaintext, r, r.namespaces, maxKeys);
    if (r.route === 'secret') return secretByScan(plaintext, r, maxKeys);
    const payload = parsePayload(plaintext, maxKeys);
    if ('ok' in payload) return payload;
    const result = respond(payload, r);
    // Checked once per artifact: a known `false` is not compared again.
    if (canonical === undefined && result.ok && result.status === 200) rememberCanonical(task.artifact, plaintext, result.body);
    return result;
  } finally {
    plaintext.fill(0);
    // Only age plaintexts: those are buffers this worker allocated (or took as spares) itself.
    if (kms === undefined) reuseWiped(plaintext);
  }
}

type SecretRequest = Extract<ServeRequest, { route: 'secret' }>;

/**
 * A scoped token's request (SPEC §10.3): the whole payload is checked as for any request, then only
 * the scope's namespaces are answered from — the body, the key list, the lookup (a key elsewhere is
 * missing; a bare key is resolved among the scope's keys only). A flat payload has no namespaces, so
 * a scope sees nothing of it. Empty namespaces are left out, as the cached mode's scoped bodies do.
 */
function scopedAnswer(plaintext: Uint8Array, r: ServeRequest, namespaces: readonly string[], maxKeys: number): ServeResult {
  const payload = parsePayload(plaintext, maxKeys);
  if ('ok' in payload) return payload;
  const wanted = new Set(namespaces);
  const kept = new Map<string, ReadonlyMap<string, string>>();
  if (payload.kind === 'nested') for (const [ns, keys] of payload.namespaces) if (wanted.has(ns) && keys.size > 0) kept.set(ns, keys);
  const scoped: Payload = { kind: 'nested', namespaces: kept };
  return r.route === 'secret' ? secretByIndex(scoped, r) : respond(scoped, r);
}

/**
 * `/v1/secrets/:key` in one pass over the plaintext (scan.ts): the whole payload is still checked,
 * but nothing is built per key except for the one answered, so a request costs the plaintext's
 * size, not a parse of every secret and an index of every key.
 */
export function secretByScan(plaintext: Uint8Array, r: SecretRequest, maxKeys: number): ServeResult {
  const scan = scanPayload(plaintext, r.name);
  const over = keyLimit(scan, maxKeys);
  if (over !== undefined) return over;
  const found = scan.lookup;
  if (found === undefined) {
    // Not provably valid by the scan alone: the full check decides (and says why, when it refuses).
    const payload = parsePayload(plaintext, maxKeys, scan);
    return 'ok' in payload ? payload : secretByIndex(payload, r);
  }
  if (found.kind === 'missing') return { ok: true, status: 404 };
  if (found.kind === 'ambiguous') return { ok: true, status: 409, candidates: found.candidates };
  return secretBody(r, qualifiedName(found.namespace, found.key), found.value);
}

/** The lookup over a fully parsed payload: the scan's fallback, and the benchmark's baseline. */
export function secretByIndex(payload: Payload, r: SecretRequest): ServeResult {
  const entries: (FlatEntry & { qualified: string; namespace: string | null })[] = [];
  forEachEntry(payload, (e) => entries.push({ ...e, qualified: qualifiedName(e.ns, e.key), namespace: e.ns }));
  const found = new KeyIndex(entries).lookup(r.name);
  if (found.kind === 'missing') return { ok: true, status: 404 };
  if (found.kind === 'ambiguous') return { ok: true, status: 409, candidates: found.candidates };
  return secretBody(r, found.entry.qualified, found.entry.value);
}

function secretBody(r: SecretRequest, qualified: string, value: string): ServeResult {
  const plan = new ArenaPlan();
  if (r.plain) {
    plan.add(value);
    return { ok: true, status: 200, contentType: 'text/plain', body: plan.write() };
  }
  writeEntryJson(plan, qualified, JSON.stringify(value));
  return json(plan);
}

/**
 * A body must own its whole ArrayBuffer: that buffer is transferred, and wiped, as a unit. The age
 * path allocates it so; anything else (e.g. a slice of a pooled Buffer) is copied and wiped.
 */
function ownedBody(plaintext: Uint8Array): Uint8Array {
  const b = plaintext.buffer;
  if (b instanceof ArrayBuffer && plaintext.byteOffset === 0 && b.byteLength === plaintext.byteLength) return plaintext;
  const copy = new Uint8Array(plaintext);
  plaintext.fill(0);
  return copy;
}

function respond(payload: Payload, r: Exclude<ServeRequest, SecretRequest>): ServeResult {
  const plan = new ArenaPlan();
  if (r.route === 'secrets') {
    writePayload(plan, payload, noop);
    return json(plan);
  }
  const names: string[] = [];
  writeNames(payload, names);
  plan.add(keysJson(names));
  return json(plan);
}

function json(body: ArenaPlan | Uint8Array): ServeResult {
  return { ok: true, status: 200, contentType: 'application/json', body: body instanceof ArenaPlan ? body.write() : body };
}

function writeNames(payload: Payload, out: string[]): void {
  if (payload.kind === 'flat') for (const k of payload.keys.keys()) out.push(k);
  else for (const [ns, keys] of payload.namespaces) for (const k of keys.keys()) out.push(qualifiedName(ns, k));
}

function forEachEntry(payload: Payload, each: (e: FlatEntry) => void): void {
  if (payload.kind === 'flat') {
    for (const [key, value] of payload.keys) each({ ns: null, key, value, json: JSON.stringify(value) });
  } else {
    for (const [ns, keys] of payload.namespaces) for (const [key, value] of keys) each({ ns, key, value, json: JSON.stringify(value) });
  }
}

function noop(): void {}
