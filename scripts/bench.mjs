#!/usr/bin/env node
// Launcher for `npm run bench` and `npm run loadtest`: builds dist/ when a TypeScript source is
// newer than the build (or the build is missing), and for the bench the production bundle the
// agents run (dist/bundle/), then runs the compiled entry point.
//   node scripts/bench.mjs [bench options]        -> dist/bench/run.js
//   node scripts/bench.mjs loadtest [options]     -> dist/src/main.js loadtest
// `--no-build` skips the build step.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = process.argv.slice(2);
const loadtest = args[0] === 'loadtest';
const rest = loadtest ? args.slice(1) : args;
const entry = loadtest ? join(root, 'dist', 'src', 'main.js') : join(root, 'dist', 'bench', 'run.js');

function newestSource(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'results') continue;
    const p = join(dir, name);
    const s = statSync(p);
    if (s.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (name.endsWith('.ts')) newest = Math.max(newest, s.mtimeMs);
  }
  return newest;
}

const skipBuild = rest.includes('--no-build');
const sources = ['src', 'workers', 'common', 'tools', 'emulators', 'bench'].map((d) => join(root, d)).filter((d) => existsSync(d));
const stale = !existsSync(entry) || Math.max(...sources.map(newestSource)) > statSync(entry).mtimeMs;
if (stale && !skipBuild) {
  process.stderr.write('[bench] building (tsc -p tsconfig.json)…\n');
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.json')], { stdio: 'inherit' });
  if (tsc.status !== 0) {
    process.stderr.write('[bench] the build failed; fix it (or pass --no-build to use the existing dist/)\n');
    process.exit(1);
  }
}
// The agents the bench starts run the shipped build: the production bundle, in dist/bundle/.
const bundleEntry = join(root, 'dist', 'bundle', 'src', 'main.js');
const bundleStale = !existsSync(bundleEntry) || Math.max(...sources.map(newestSource)) > statSync(bundleEntry).mtimeMs;
if (!loadtest && bundleStale && !skipBuild) {
  process.stderr.write('[bench] bundling the agent (scripts/build-prod.mjs --out dist/bundle)…\n');
  const b = spawnSync(process.execPath, [join(root, 'scripts', 'build-prod.mjs'), '--out', join(root, 'dist', 'bundle')], { stdio: 'inherit' });
  if (b.status !== 0) {
    process.stderr.write('[bench] the bundle failed\n');
    process.exit(1);
  }
}
if (!existsSync(entry)) {
  process.stderr.write(`[bench] ${entry} is missing; run npm run build\n`);
  process.exit(1);
}
const argv = loadtest ? [entry, 'loadtest', ...rest.filter((a) => a !== '--no-build')] : [entry, ...rest];
const r = spawnSync(process.execPath, argv, { stdio: 'inherit' });
process.exit(r.status ?? 1);
