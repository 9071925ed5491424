/**
 * Buffers for JIT plaintexts, reused instead of allocated per request (SPARE_BODY_BYTES).
 *
 * Where they come from: the main thread moves written `/v1/secrets` bodies back with the next
 * serve task (src/serving/spare-bodies.ts), zeroed whole; a plaintext this worker wiped itself
 * (the other routes) comes back here too. Every buffer on the list is therefore all zeroes and
 * owned by nothing else. A buffer is only ever taken for a plaintext of exactly its size, so a
 * body is always its whole ArrayBuffer (the unit that is moved and wiped): all requests on one
 * artifact have the same plaintext size, which is what makes exact sizes hit.
 */
import { SPARE_BODY_BYTES, SPARE_BODY_MIN_BYTES } from '../common/limits.js';

const spares: ArrayBuffer[] = [];
let bytes = 0;

/** Keeps buffers a task brought (moved from the main thread, already zeroed). */
export function keepSpares(list: readonly ArrayBuffer[] | undefined): void {
  if (list === undefined) return;
  for (const b of list) add(b);
}

/**
 * A Buffer of exactly `size` bytes for a plaintext: a spare when one fits, else a fresh unpooled
 * one. Either way the caller owns it whole and must wipe it.
 */
export function plaintextBuffer(size: number): Buffer {
  // The most recently kept first: the likeliest to still be in the CPU's caches.
  for (let i = spares.length - 1; i >= 0; i--) {
    const b = spares[i];
    if (b !== undefined && b.byteLength === size) {
      spares.splice(i, 1);
      bytes -= size;
      return Buffer.from(b);
    }
  }
  return Buffer.allocUnsafeSlow(size);
}

/** A plaintext this worker has wiped (`fill(0)`) and will not touch again. */
export function reuseWiped(plaintext: Uint8Array): void {
  const b = plaintext.buffer;
  if (b instanceof ArrayBuffer && plaintext.byteOffset === 0 && plaintext.byteLength === b.byteLength) add(b);
}

/** What the list holds now (tests). */
export function spareCount(): number {
  return spares.length;
}

function add(b: ArrayBuffer): void {
  // A small or detached (length 0) buffer, or one past the cap, is left to the GC, as is the
  // oldest spare when the list is full: after an artifact change, old sizes are never taken.
  if (b.byteLength < SPARE_BODY_MIN_BYTES || b.byteLength > SPARE_BODY_BYTES || spares.includes(b)) return;
  while (bytes + b.byteLength > SPARE_BODY_BYTES) {
    const oldest = spares.shift();
    if (oldest === undefined) break;
    bytes -= oldest.byteLength;
  }
  spares.push(b);
  bytes += b.byteLength;
}
