#!/usr/bin/env node
// The production build (`npm run build:prod`: npm pack's prepack, so the npm package and the image):
// one bundle per thread instead of the hundreds of modules tsc emits. esbuild bundles the main
// thread (src/main.ts, with pack and loadtest) into dist/src/ and the worker side (workers/index.ts)
// into dist/workers/, the same paths the tsc build uses, so the pool finds its worker file as
// ../workers/index.js from either. What is loaded only on demand (the OpenTelemetry SDK, prom-client,
// the AWS SDK, the HTTP stack, the pack and loadtest commands) stays in chunks of its own, loaded
// when first imported. Measured (bench/README.md "Footprint"): spawn to ready ~25 % faster and
// ~10 MiB less idle RSS than the tsc output.
//
// piscina is bundled too, and the worker bundle's entry is piscina's worker wrapper and our handler
// in one (scripts/worker-bundle.mjs says why).
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { piscinaWrapperPath, WORKER_ENTRY, workerEntry } from './worker-bundle.mjs';

const root = resolve(new URL('..', import.meta.url).pathname);
// `--out DIR`: build elsewhere (bench/README.md compares this build with the tsc one); default dist/.
const outFlag = process.argv.indexOf('--out');
const dist = outFlag > 0 ? resolve(process.argv[outFlag + 1] ?? '') : join(root, 'dist');
const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  // The oldest Node the package supports (package.json engines).
  target: 'node20',
  splitting: true,
  chunkNames: '[name]-[hash]',
  minify: true,
  // Error class names are part of what the agent logs (never messages): keep them.
  keepNames: true,
  legalComments: 'none',
  logLevel: 'warning',
  // piscina's optional native addon for `niceIncrement`, which the agent never sets.
  external: ['@napi-rs/nice'],
  // CommonJS dependencies (the AWS SDK, pino) call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __clefCreateRequire } from 'node:module'; const require = __clefCreateRequire(import.meta.url);" },
  // src/cli/version.ts: the bundle's chunks do not sit where package.json's relative path expects.
  // src/pool.ts: the worker bundle is piscina's wrapper and the task file in one (worker-bundle.mjs).
  define: { __BUNDLED_PACKAGE_VERSION__: JSON.stringify(version), __BUNDLED_WORKER_ENTRY__: 'true' },
};

rmSync(dist, { recursive: true, force: true });
await esbuild.build({
  ...common,
  entryPoints: { main: join(root, 'src', 'main.ts') },
  outdir: join(dist, 'src'),
  plugins: [piscinaWrapperPath()],
});
await esbuild.build({ ...common, entryPoints: { index: WORKER_ENTRY }, outdir: join(dist, 'workers'), plugins: [workerEntry(root)] });
// The client (`clef-agent/client`) is plain tsc output with its .d.ts files: no dependencies to
// bundle, and applications import it as ordinary ES modules with their types.
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.client.json'), '--outDir', join(dist, 'client')], { stdio: 'inherit' });
