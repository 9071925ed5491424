import { KeyIndex, type Lookup } from '../../common/keys.js';
import type { ArtifactMeta, SnapshotEntry, SnapshotWire, Span } from '../../common/protocol.js';

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
  private wiped = false;

  constructor(meta: ArtifactMeta, wire: SnapshotWire) {
    this.meta = meta;
    this.arena = Buffer.from(wire.arena.buffer, wire.arena.byteOffset, wire.arena.byteLength);
    this.secretsBody = this.view(wire.secrets);
    this.keysBody = this.view(wire.keys);
    this.keyCount = wire.entries.length;
    this.index = new KeyIndex(
      wire.entries.map((e: SnapshotEntry) => ({
        qualified: e.qualified,
        namespace: e.namespace,
        key: e.key,
        json: this.view(e.json),
        value: this.view(e.value),
      })),
    );
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
    this.wiped = true;
  }

  private view(span: Span): Buffer {
    return this.arena.subarray(span.offset, span.offset + span.length);
  }
}
