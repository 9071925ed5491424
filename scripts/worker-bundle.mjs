// What scripts/build-prod.mjs (the npm package and the image) and scripts/build-binary.mjs share:
// piscina bundled into the agent instead of loaded from node_modules, and the worker side built as
// one ES module graph whose entry is piscina's worker wrapper and our handler together.
//
// Why: piscina starts each worker as `new Worker(<its worker.js>)`, and that wrapper then loads the
// task handler by file name. Loaded from node_modules, piscina is ~15 CommonJS files read and
// compiled on the main thread before the first worker can start, and its wrapper the same again in
// every worker before our handler loads: ~30 ms of a cold start on the 2-core machine
// (bench/README.md "Lambda cold start"). Bundled, the wrapper is the worker entry file itself
// (piscina's `resolve(__dirname, 'worker.js')` is rewritten to read it from src/pool.ts), which
// also exports the handler, so the wrapper's own load of the task file finds it already loaded.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The one expression in piscina's index.js that names its worker wrapper. */
const WRAPPER_EXPR = "(0, node_path_1.resolve)(__dirname, 'worker.js')";

/**
 * Where the bundled piscina starts its workers: the global src/pool.ts sets to the worker entry
 * before it creates the pool. A global, not an expression of the bundle's own location: piscina's
 * index.js is CommonJS, and `import.meta` in it would make esbuild treat it as an ES module.
 */
const WRAPPER_FILE = "globalThis[Symbol.for('clef-agent.piscina-wrapper-file')]";

/** Rewrites piscina's `resolve(__dirname, 'worker.js')` to read WRAPPER_FILE. */
export function piscinaWrapperPath() {
  return {
    name: 'piscina-wrapper-path',
    setup(build) {
      build.onLoad({ filter: /[\\/]node_modules[\\/]piscina[\\/]dist[\\/]index\.js$/ }, (args) => {
        const source = readFileSync(args.path, 'utf8');
        if (source.split(WRAPPER_EXPR).length !== 2) {
          throw new Error(`piscina changed: "${WRAPPER_EXPR}" is not in ${args.path} exactly once; revisit scripts/worker-bundle.mjs`);
        }
        return { contents: source.replace(WRAPPER_EXPR, WRAPPER_FILE), loader: 'js' };
      });
    },
  };
}

/** The worker side's entry point for esbuild: `entryPoints: { index: WORKER_ENTRY }`, with `workerEntry(root)` in plugins. */
export const WORKER_ENTRY = 'clef-agent:worker-entry';

/**
 * The worker entry: piscina's wrapper (it starts listening for piscina's start message when
 * evaluated) and our handler as the default export. By absolute path: piscina's exports map does
 * not list worker.js.
 */
export function workerEntry(root) {
  const piscinaDist = join(root, 'node_modules', 'piscina', 'dist');
  return {
    name: 'worker-entry',
    setup(build) {
      build.onLoad({ filter: /[\\/]workers[\\/]movable\.ts$/ }, () => ({ contents: movableShim(piscinaDist), resolveDir: root, loader: 'js' }));
      build.onResolve({ filter: /^clef-agent:worker-entry$/ }, () => ({ path: WORKER_ENTRY, namespace: 'clef-agent' }));
      build.onLoad({ filter: /.*/, namespace: 'clef-agent' }, () => ({
        contents: [
          `import ${JSON.stringify(join(root, 'node_modules', 'piscina', 'dist', 'worker.js'))};`,
          `export { default } from ${JSON.stringify(join(root, 'workers', 'index.ts'))};`,
        ].join('\n'),
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
}

/**
 * workers/movable.ts for the bundles: piscina's movable wrapper built from the symbols and marker of
 * its worker side (dist/symbols.js, dist/common.js, which its worker wrapper in the same bundle
 * imports too, so both see one kMovable symbol), instead of `Piscina.move` from its index, which
 * would load piscina's whole pool into every worker (~35 KB; ~6 ms of a worker's start). The build
 * fails if piscina no longer exports them there.
 */
function movableShim(piscinaDist) {
  const symbols = join(piscinaDist, 'symbols.js');
  const common = join(piscinaDist, 'common.js');
  const need = [
    [symbols, 'exports.kTransferable = Symbol.for('],
    [symbols, 'exports.kValue = Symbol.for('],
    [common, 'exports.markMovable = markMovable;'],
  ];
  for (const [file, text] of need) {
    if (!readFileSync(file, 'utf8').includes(text)) throw new Error(`piscina changed: "${text}" is not in ${file}; revisit scripts/worker-bundle.mjs`);
  }
  return [
    `import { kTransferable, kValue } from ${JSON.stringify(symbols)};`,
    `import { markMovable } from ${JSON.stringify(common)};`,
    'export function movable(value, buffers) {',
    '  const wrapper = { [kTransferable]: buffers, [kValue]: value };',
    '  markMovable(wrapper);',
    '  return wrapper;',
    '}',
  ].join('\n');
}
