#!/usr/bin/env node
// Builds the standalone binary (SPEC §9): dist-bin/clef-agent, a Node single-executable application
// for the platform it runs on (CI: linux-x64). Usage: node scripts/build-binary.mjs
//
// 1. The Node that becomes the binary: the LTS release of scripts/lts-node.mjs (npm's `node` package,
//    installed into .tmp/, or SEA_NODE=/path/to/node of that version). It also builds the blob, as SEA requires.
// 2. esbuild bundles the main thread (src/main.ts, with pack and loadtest) into one CommonJS file,
//    and the worker side (piscina's worker wrapper + workers/index.ts) into another.
// 3. `node --build-sea` writes the executable (into a stripped copy of that node): the main bundle is the SEA main script; the worker
//    bundle and package.json are assets. At run time src/sea.ts writes the worker bundle into a
//    private temp directory (worker threads need a real file) and removes it at exit.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { LTS_NODE_VERSION as NODE_VERSION, ltsNode as seaNode } from './lts-node.mjs';

/** Asset names: must match SEA_ASSETS in src/sea.ts. */
const ASSETS = { worker: 'worker.cjs', packageJson: 'package.json' };

const root = resolve(new URL('..', import.meta.url).pathname);
const outDir = join(root, 'dist-bin');
const work = join(outDir, 'build');
const output = join(outDir, 'clef-agent');

/**
 * piscina starts every worker as `new Worker(resolve(__dirname, 'worker.js'))`, its wrapper next to
 * its own file. In the binary there is no such file (and `__dirname` is the executable's
 * directory), so that one expression reads the path src/sea.ts wrote the worker bundle to.
 */
const piscinaWorkerPath = {
  name: 'piscina-worker-path',
  setup(build) {
    build.onLoad({ filter: /[\\/]node_modules[\\/]piscina[\\/]dist[\\/]index\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      const expr = "(0, node_path_1.resolve)(__dirname, 'worker.js')";
      if (source.split(expr).length !== 2) throw new Error(`piscina changed: "${expr}" is not in ${args.path} exactly once; revisit build-binary.mjs`);
      return { contents: source.replace(expr, "globalThis[Symbol.for('clef-agent.sea.piscina-worker-file')]"), loader: 'js' };
    });
  },
};

/** Both bundles: CommonJS for Node 26, everything inlined (the AWS SDK's lazy imports included). */
const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: `node${NODE_VERSION.split('.')[0]}`,
  minify: true,
  // Error class names are part of what the agent logs (never messages): keep them.
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  // ESM code in a CommonJS bundle: `import.meta.url` becomes the bundle's own file URL. The code
  // that uses it (worker path, package.json) takes the src/sea.ts route in the binary.
  define: { 'import.meta.url': '__clef_import_meta_url' },
  banner: { js: "var __clef_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [piscinaWorkerPath],
  // piscina's optional native addon for `niceIncrement`, which the agent never sets.
  external: ['@napi-rs/nice'],
};

async function bundle() {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  await esbuild.build({ ...common, entryPoints: [join(root, 'src', 'main.ts')], outfile: join(work, 'main.cjs') });
  // One file that is piscina's worker wrapper and exports our handler: the pool names this same
  // file as its task module, and the wrapper's require() of it returns these exports.
  await esbuild.build({
    ...common,
    stdin: {
      contents: [
        `require(${JSON.stringify(join(root, 'node_modules', 'piscina', 'dist', 'worker.js'))});`,
        "module.exports = require('./workers/index.ts').default;",
      ].join('\n'),
      resolveDir: root,
      sourcefile: 'sea-worker-entry.cjs',
      loader: 'js',
    },
    outfile: join(work, ASSETS.worker),
  });
}

/**
 * The executable to inject into: a copy of `node` without its symbol and debug sections (npm's
 * linux-x64 node carries them: 143 MiB, 111 MiB stripped), when binutils' `strip` is installed.
 */
function baseExecutable(node) {
  const copy = join(work, 'node');
  copyFileSync(node, copy);
  try {
    execFileSync('strip', [copy], { stdio: 'inherit' });
  } catch (err) {
    if (err.code !== 'ENOENT') throw err;
    console.log("strip not found: the binary keeps node's debug sections (about 30 MiB more)");
  }
  return copy;
}

function buildSea(node) {
  const config = {
    main: join(work, 'main.cjs'),
    mainFormat: 'commonjs',
    executable: baseExecutable(node),
    output,
    disableExperimentalSEAWarning: true,
    useCodeCache: true,
    useSnapshot: false,
    // A process holding secrets takes no Node options from its environment (NODE_OPTIONS=--require …).
    execArgv: [],
    execArgvExtension: 'none',
    assets: { [ASSETS.worker]: join(work, ASSETS.worker), [ASSETS.packageJson]: join(root, 'package.json') },
  };
  const configPath = join(work, 'sea-config.json');
  writeFileSync(configPath, `${JSON.stringify(config, null, 2)}\n`);
  execFileSync(node, ['--build-sea', configPath], { stdio: 'inherit' });
  chmodSync(output, 0o755);
  rmSync(join(work, 'node'));
}

const node = seaNode();
await bundle();
buildSea(node);
const mb = (p) => `${(statSync(p).size / 1024 / 1024).toFixed(1)} MiB`;
console.log(
  `built ${output} (${mb(output)}; main bundle ${mb(join(work, 'main.cjs'))}, worker bundle ${mb(join(work, ASSETS.worker))}) on Node ${NODE_VERSION}`,
);
