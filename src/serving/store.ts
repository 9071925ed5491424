import NodeCache from 'node-cache';
import type { Snapshot } from './snapshot.js';

const KEY = 'snapshot';

/**
 * Holds the one snapshot being served, in node-cache without per-read cloning (SPEC §5.2): a
 * read is a reference, never a copy of secrets. Freshness is decided by the refresh rules, not by
 * node-cache's TTL, because an expired cache first tries one refresh (SPEC §4.3).
 */
export class SnapshotStore {
  private readonly cache = new NodeCache({ useClones: false, stdTTL: 0, checkperiod: 0 });
  /** Snapshots swapped out but still being written to a client; wiped when the last one ends. */
  private readonly retiring = new Set<Snapshot>();
  private readonly refs = new Map<Snapshot, number>();

  get(): Snapshot | undefined {
    return this.cache.get<Snapshot>(KEY);
  }

  /** Atomic swap: the next `get()` sees only the new snapshot. The old one is wiped once idle. */
  swap(next: Snapshot): void {
    const prev = this.get();
    this.cache.set(KEY, next);
    if (prev && prev !== next) this.retire(prev);
  }

  /** Drop every copy now (revocation, expiry, TTL): zero the bytes, even under readers. */
  wipe(): void {
    const prev = this.get();
    this.cache.del(KEY);
    prev?.wipe();
    for (const s of this.retiring) s.wipe();
    this.retiring.clear();
    this.refs.clear();
  }

  /** A response is about to write from `s`; `release` when it finished or was aborted. */
  acquire(s: Snapshot): () => void {
    this.refs.set(s, (this.refs.get(s) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.refs.get(s) ?? 1) - 1;
      if (n > 0) {
        this.refs.set(s, n);
        return;
      }
      this.refs.delete(s);
      if (this.retiring.delete(s)) s.wipe();
    };
  }

  close(): void {
    this.wipe();
    this.cache.close();
  }

  private retire(s: Snapshot): void {
    if ((this.refs.get(s) ?? 0) === 0) s.wipe();
    else this.retiring.add(s);
  }
}
