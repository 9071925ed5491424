#!/usr/bin/env node
// Runs every compiled test file (dist/test/**/*.test.js) with node's built-in test runner.
// Node 20's `--test` takes no globs, so the file list is collected here.
// Usage: node scripts/run-tests.mjs [substring filter ...] [--skip substring ...]
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const testDir = join(root, 'dist', 'test');
const filters = [];
const skips = [];
for (let i = 2; i < process.argv.length; i++) {
  if (process.argv[i] === '--skip' && i + 1 < process.argv.length) skips.push(process.argv[++i]);
  else filters.push(process.argv[i]);
}

function collect(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) {
      // test/binary tests the standalone binary: only the binary leg (npm run test:binary) has one.
      if (p === join(testDir, 'binary') && !process.env.CLEF_AGENT_TEST_BINARY) continue;
      out.push(...collect(p));
    } else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = collect(testDir).filter((f) => {
  const rel = relative(root, f);
  return (filters.length === 0 || filters.some((s) => rel.includes(s))) && !skips.some((s) => rel.includes(s));
});
if (files.length === 0) {
  console.error(`no test files found under ${relative(root, testDir)}${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
  process.exit(1);
}
// Most suites spend their time waiting on child processes and sockets, not CPU, so run a few
// files at once even on a 2-core machine.
const concurrency = process.env.TEST_CONCURRENCY ?? '3';
const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
