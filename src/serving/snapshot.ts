import { KeyIndex, type Lookup } from '../../common/keys.js';
import type { ArtifactMeta, SnapshotEntry, SnapshotWire, Span } from '../../common/protocol.js';
import type { Scope } from './mode.js';

/** What a scoped token (SPEC §10.3) is answered from: its own bodies and index, built once per snapshot. */
export interface ScopedView {
  readonly secretsBody: Buffer;
  readonly keysBody: Buffer;
  readonly lookup: (name: string) => Lookup<EntryView>;
}

/** A secret as the server answers it: views into the snapshot arena, no copies. */
export interface EntryView {
  readonly qualified: string;
  readonly namespace: string | null;
  readonly key: string;
  readonly json: Buffer;
  readonly value: Buffer;
}

/**
 * One decrypted artifact, ready to serve: every response body was serialized once, in the
 * worker, into a single arena. A request reads one Snapshot object from start to end, so it is
 * answered entirely from one revision (SPEC §4.3 step 9).
 */
export class Snapshot {
  readonly meta: ArtifactMeta;
  readonly secretsBody: Buffer;
  readonly keysBody: Buffer;
  readonly keyCount: number;
  private readonly arena: Buffer;
  private readonly index: KeyIndex<EntryView>;
  private readonly entries: readonly EntryView[];
  /** Scoped views by scope id, built on first use (never per request), wiped with the snapshot. */
  private readonly scopes = new Map<string, ScopedView>();
  private wiped = false;

  constructor(meta: ArtifactMeta, wire: SnapshotWire) {
    this.meta = meta;
    this.arena = Buffer.from(wire.arena.buffer, wire.arena.byteOffset, wire.arena.byteLength);
    this.secretsBody = this.view(wire.secrets);
    this.keysBody = this.view(wire.keys);
    this.keyCount = wire.entries.length;
    this.entries = wire.entries.map((e: SnapshotEntry) => ({
      qualified: e.qualified,
      namespace: e.namespace,
      key: e.key,
      json: this.view(e.json),
      value: this.view(e.value),
    }));
    this.index = new KeyIndex(this.entries);
  }

  /**
   * The view a scoped token sees: only its namespaces (a flat payload has none, so it sees nothing).
   * Built from this snapshot's arena on first use by that scope, then reused until the snapshot is
   * swapped out; undefined scope (the main token) is the whole snapshot.
   */
  scoped(scope: Scope): ScopedView {
    const id = scope.scopeId ?? JSON.stringify(scope.namespaces ?? []);
    let v = this.scopes.get(id);
    if (v === undefined) {
      v = this.buildScope(new Set(scope.namespaces ?? []));
      if (!this.wiped) this.scopes.set(id, v);
    }
    return v;
  }

  /**
   * The scope's `/v1/secrets` body, byte for byte what the workers' serializer writes for the payload
   * restricted to these namespaces (so cached and JIT answers agree): copied out of each entry's
   * `{"key":…,"value":<json>}` body into one Buffer, which `wipe` zeroes with the arena.
   */
  private buildScope(namespaces: ReadonlySet<string>): ScopedView {
    const inScope = this.entries.filter((e) => e.namespace !== null && namespaces.has(e.namespace));
    const pieces: Buffer[] = [Buffer.from('{')];
    let ns: string | null = null;
    for (const e of inScope) {
      const opening = ns === null ? '' : e.namespace !== ns ? '},' : ',';
      const head = e.namespace !== ns ? `${opening}${JSON.stringify(e.namespace)}:{` : opening;
      ns = e.namespace;
      pieces.push(Buffer.from(`${head}${JSON.stringify(e.key)}:`));
      const prefix = Buffer.byteLength(`{"key":${JSON.stringify(e.qualified)},"value":`);
      pieces.push(e.json.subarray(prefix, e.json.length - 1));
    }
    pieces.push(Buffer.from(ns === null ? '}' : '}}'));
    const secretsBody = Buffer.alloc(pieces.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of pieces) at += p.copy(secretsBody, at);
    const keysBody = Buffer.from(JSON.stringify(inScope.map((e) => e.qualified).sort()));
    const index = new KeyIndex(inScope);
    return { secretsBody, keysBody, lookup: (name) => index.lookup(name) };
  }

  lookup(name: string): Lookup<EntryView> {
    return this.index.lookup(name);
  }

  get isWiped(): boolean {
    return this.wiped;
  }

  /** Zero every secret byte this snapshot holds (all views share the arena). */
  wipe(): void {
    this.arena.fill(0);
    for (const v of this.scopes.values()) v.secretsBody.fill(0);
    this.scopes.clear();
    this.wiped = true;
  }

  private view(span: Span): Buffer {
    return this.arena.subarray(span.offset, span.offset + span.length);
  }
}
