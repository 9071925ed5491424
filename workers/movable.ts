/**
 * `Piscina.move` without loading piscina's index in the worker. A handler's result is moved (its
 * ArrayBuffers transferred, not copied) when piscina's worker wrapper sees it marked movable; the
 * mark is a symbol private to piscina's `common.js`, set by its `markMovable`, and `Piscina.move`
 * is only a wrapper around that. Importing `piscina` for it loaded the whole pool implementation
 * into every worker (about a third of the worker bundle's start-up, bench/README.md "Lambda cold
 * start"), while the wrapper that runs our handler has already loaded `common.js`: its loaded
 * module is used. Where it is not a separate module (the binary bundles piscina into the worker
 * file), piscina's own `Piscina.move` is imported instead, once.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The transferable protocol's public symbols (`Symbol.for`, so the same in every module). */
const kTransferable = Symbol.for('Piscina.transferable');
const kValue = Symbol.for('Piscina.valueOf');

type Mark = (value: object) => object;

/** piscina's `markMovable`, from the `common.js` next to the loaded worker wrapper; undefined when there is none. */
export function loadedMark(cache: NodeJS.Dict<NodeModule> = createRequire(import.meta.url).cache): Mark | undefined {
  const wrapper = Object.keys(cache).find((file) => /[\\/]piscina[\\/]dist[\\/]worker\.js$/.test(file));
  if (wrapper === undefined) return undefined;
  const common: unknown = cache[join(dirname(wrapper), 'common.js')]?.exports;
  const mark = (common as { markMovable?: unknown } | undefined)?.markMovable;
  if (typeof mark !== 'function') return undefined;
  // Checked to be a function above; its one argument is the object to mark.
  return (value) => {
    (mark as (v: object) => void)(value);
    return value;
  };
}

let mark: Mark | Promise<Mark> | undefined;

async function piscinaMove(): Promise<Mark> {
  const { Piscina } = await import('piscina');
  // Piscina types its symbols as plain `symbol`, so TS cannot see the object satisfies its
  // Transferable interface; at runtime it is exactly what `isTransferable` checks.
  return (value) => Piscina.move(value as unknown as Parameters<typeof Piscina.move>[0]);
}

/** `value`, to be moved with `buffers` as its transfer list when the handler returns it. */
export async function movable(value: unknown, buffers: readonly ArrayBufferLike[]): Promise<object> {
  if (typeof mark !== 'function') mark = await (mark ??= loadedMark() ?? piscinaMove());
  return mark({ [kTransferable]: buffers, [kValue]: value });
}
