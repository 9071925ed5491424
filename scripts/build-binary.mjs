#!/usr/bin/env node
// Builds the standalone binary (SPEC §9): dist-bin/clef-agent, a Node single-executable application
// for the platform it runs on (CI: linux-x64). Usage: node scripts/build-binary.mjs
//
// 1. The Node that becomes the binary: the LTS release of scripts/lts-node.mjs (npm's `node` package,
//    installed into .tmp/, or SEA_NODE=/path/to/node of that version). It also builds the blob, as SEA requires.
// 2. esbuild bundles the main thread (src/main.ts, with pack and loadtest) into one CommonJS file,
//    and the worker side (piscina's worker wrapper + workers/index.ts, scripts/worker-bundle.mjs)
//    into ES module chunks, as the npm package does: the entry loads only what the first load needs
//    and the AWS SDK, the HTTP stack and the rest stay in chunks loaded on demand (one CommonJS
//    file with all of it inlined took ~60 ms longer to start a worker).
// 3. `node --build-sea` writes the executable (into a stripped copy of that node): the main bundle is the SEA main script; the worker
//    chunks (with a list of them) and package.json are assets. At run time src/sea.ts writes the
//    worker chunks into a private temp directory (worker threads need real files) and removes it at exit.
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { LTS_NODE_VERSION as NODE_VERSION, ltsNode as seaNode } from './lts-node.mjs';
import { piscinaWrapperPath, WORKER_ENTRY, workerEntry } from './worker-bundle.mjs';

/** Asset names: must match SEA_ASSETS in src/sea.ts (each worker chunk is `worker/<file>`). */
const ASSETS = { workerFiles: 'worker-files.json', workerPrefix: 'worker/', packageJson: 'package.json' };

const root = resolve(new URL('..', import.meta.url).pathname);
const outDir = join(root, 'dist-bin');
const work = join(outDir, 'build');
const output = join(outDir, 'clef-agent');
const workerDir = join(work, 'worker');

/** What both bundles share: Node 26, minified, every dependency inlined. */
const base = {
  bundle: true,
  platform: 'node',
  target: `node${NODE_VERSION.split('.')[0]}`,
  minify: true,
  // Error class names are part of what the agent logs (never messages): keep them.
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  // piscina's optional native addon for `niceIncrement`, which the agent never sets.
  external: ['@napi-rs/nice'],
};

/** The main bundle: CommonJS (the SEA main script), the lazy imports inlined too. */
const mainOptions = {
  ...base,
  format: 'cjs',
  // ESM code in a CommonJS bundle: `import.meta.url` becomes the bundle's own file URL. The code
  // that uses it (worker path, package.json) takes the src/sea.ts route in the binary.
  // src/pool.ts: the worker entry is piscina's wrapper and the task file in one (worker-bundle.mjs).
  define: { 'import.meta.url': '__clef_import_meta_url', __BUNDLED_WORKER_ENTRY__: 'true' },
  banner: { js: "var __clef_import_meta_url = require('node:url').pathToFileURL(__filename).href;" },
  plugins: [piscinaWrapperPath()],
};

/**
 * The worker side: ES module chunks (`.mjs`, as the temp directory has no package.json saying
 * "module"), so that nothing but the chunks is needed at run time.
 */
const workerOptions = {
  ...base,
  format: 'esm',
  splitting: true,
  chunkNames: '[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  // CommonJS dependencies (the AWS SDK, piscina's wrapper) call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __clefCreateRequire } from 'node:module'; const require = __clefCreateRequire(import.meta.url);" },
  plugins: [workerEntry(root)],
};

async function bundle() {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  await esbuild.build({ ...mainOptions, entryPoints: [join(root, 'src', 'main.ts')], outfile: join(work, 'main.cjs') });
  // The entry (index.mjs) is piscina's worker wrapper and our handler: the pool names this same file
  // as its task module, and the wrapper's load of it finds it loaded.
  await esbuild.build({ ...workerOptions, entryPoints: { index: WORKER_ENTRY }, outdir: workerDir });
  writeFileSync(join(work, ASSETS.workerFiles), `${JSON.stringify(readdirSync(workerDir).sort())}\n`);
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
    // A process holding secrets takes no Node options from its environment (NODE_OPTIONS=--require …),
    // and no signal opens an inspector: without --disable-sigusr1, a SIGUSR1 that came before the
    // agent's own handler (src/lifecycle/start-signals.ts), or to a subcommand that has none, would.
    execArgv: ['--disable-sigusr1'],
    execArgvExtension: 'none',
    assets: {
      [ASSETS.workerFiles]: join(work, ASSETS.workerFiles),
      ...Object.fromEntries(readdirSync(workerDir).map((f) => [`${ASSETS.workerPrefix}${f}`, join(workerDir, f)])),
      [ASSETS.packageJson]: join(root, 'package.json'),
    },
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
const mib = (bytes) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
const workerFiles = readdirSync(workerDir);
const workerBytes = workerFiles.reduce((n, f) => n + statSync(join(workerDir, f)).size, 0);
const entryBytes = statSync(join(workerDir, 'index.mjs')).size;
console.log(
  `built ${output} (${mib(statSync(output).size)}; main bundle ${mib(statSync(join(work, 'main.cjs')).size)}, worker bundle ${mib(workerBytes)} in ${workerFiles.length} chunks, entry ${mib(entryBytes)}) on Node ${NODE_VERSION}`,
);
