#!/usr/bin/env node
// The binary leg: the end-to-end contract suites that matter for a standalone binary, run against
// dist-bin/clef-agent instead of `node dist/src/main.js` (test/kit/agent.ts reads
// CLEF_AGENT_TEST_BINARY), plus test/binary/ (the list: scripts/binary-suites.mjs).
// Usage: node scripts/test-binary.mjs [substring filter ...]   (default: the set below)
// Builds the tests (tsc) and, when dist-bin/clef-agent is missing, the binary.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { BINARY_SUITES as SUITES } from './binary-suites.mjs';

const root = new URL('..', import.meta.url).pathname;
const binary = process.env.CLEF_AGENT_TEST_BINARY ?? join(root, 'dist-bin', 'clef-agent');

function run(command, args, env = process.env) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run('npm', ['run', 'build']);
if (!existsSync(binary)) run(process.execPath, [join(root, 'scripts', 'build-binary.mjs')]);
const filters = process.argv.length > 2 ? process.argv.slice(2) : SUITES;
console.log(`--- the binary leg: ${binary}`);
run(process.execPath, [join(root, 'scripts', 'run-tests.mjs'), ...filters], { ...process.env, CLEF_AGENT_TEST_BINARY: binary });
