#!/usr/bin/env node
// CI's LTS leg: the compiled suite (built by `npm test` on this machine's Node) run by the LTS Node
// the product ships on (scripts/lts-node.mjs), so the agent's own code, the workers and every
// in-process test run on that runtime too. Two kinds of file are left out, each for a reason:
// - the end-to-end suites the binary leg runs (scripts/binary-suites.mjs): they already run the
//   agent on the LTS, inside the binary;
// - tests of the project's tooling rather than the agent (lint rules, npm packing, the deployment
//   files, the benchmark harness): they run npm, eslint and the bench on the developer's Node, so
//   the runtime the agent ships on changes nothing in them.
// Usage: node scripts/test-lts.mjs   (installs the LTS node into .tmp/ when missing)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BINARY_SUITES } from './binary-suites.mjs';
import { ltsNode } from './lts-node.mjs';

const TOOLING = ['test/lint/', 'test/package/', 'test/deploy/', 'test/bench/'];

const root = fileURLToPath(new URL('..', import.meta.url));
const node = ltsNode();
const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
console.log(`--- the suite again on Node ${version} (without the binary leg's e2e suites and the tooling tests)`);
const skips = [...BINARY_SUITES, ...TOOLING].flatMap((s) => ['--skip', s]);
const r = spawnSync(node, [join(root, 'scripts', 'run-tests.mjs'), ...skips], { stdio: 'inherit' });
process.exit(r.status ?? 1);
