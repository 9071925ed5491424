import { SPARE_BODY_BYTES, SPARE_BODY_MIN_BYTES } from '../../common/limits.js';

/**
 * Written JIT bodies, zeroed, waiting to go back to a worker with the next serve task
 * (workers/spares.ts decrypts into them). Without this, each body is a dead external buffer that
 * the main thread's GC only finds under external-memory pressure: at JIT 1000 keys that was a
 * mark-compact every ~0.4 s and tens of MiB of dead bodies in RSS (bench/README.md "Footprint").
 *
 * A buffer is zeroed whole the moment it is kept, so what goes back holds no secret; it is moved
 * (detached here), never shared, so no two bodies can ever be one buffer.
 */
export class SpareBodies {
  private list: ArrayBuffer[] = [];
  private bytes = 0;

  constructor(private readonly maxBytes = SPARE_BODY_BYTES) {}

  /** A body's buffer after its response finished or was aborted: wiped now, kept while there is room. */
  keep(buffer: ArrayBuffer): void {
    const size = buffer.byteLength;
    // Detached (moved away already): nothing left here to wipe, and a view on it would throw.
    if (size === 0) return;
    new Uint8Array(buffer).fill(0);
    // Small, no room, or already here (a second release).
    if (size < SPARE_BODY_MIN_BYTES || this.bytes + size > this.maxBytes || this.list.includes(buffer)) return;
    this.list.push(buffer);
    this.bytes += size;
  }

  /** Up to `n` kept buffers for a task to carry (and move) to a worker; undefined when none. */
  take(n: number): ArrayBuffer[] | undefined {
    if (this.list.length === 0 || n <= 0) return undefined;
    const out = this.list.length <= n ? this.list : this.list.splice(this.list.length - n, n);
    if (out === this.list) this.list = [];
    for (const b of out) this.bytes -= b.byteLength;
    return out;
  }

  /** Drops every kept buffer (a new artifact: its bodies have another size). */
  clear(): void {
    this.list = [];
    this.bytes = 0;
  }

  get size(): number {
    return this.list.length;
  }
}
