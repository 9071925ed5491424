/**
 * A task result whose ArrayBuffers are moved, not copied, to the main thread: piscina's movable
 * wrapper (the result under its value symbol, the buffers under its transferable symbol, marked
 * movable), which piscina's worker wrapper unwraps before posting, handing the buffers over as the
 * message's transfer list.
 *
 * The production bundles replace this module (scripts/worker-bundle.mjs) with one that builds the
 * same wrapper from piscina's own symbols and marker, the ones its worker wrapper bundled beside it
 * checks, so a worker does not load piscina's pool (its index, ~35 KB of the worker entry: ~6 ms of
 * every worker's start, bench/README.md "Lambda cold start").
 */
import { Piscina } from 'piscina';

export function movable(value: unknown, buffers: readonly ArrayBufferLike[]): unknown {
  const wrapper = { [Piscina.transferableSymbol]: buffers, [Piscina.valueSymbol]: value };
  // Piscina types its symbols as plain `symbol`, so TS cannot see this satisfies its Transferable
  // interface; at runtime it is exactly what `isTransferable` checks.
  return Piscina.move(wrapper as unknown as Parameters<typeof Piscina.move>[0]);
}
