#!/usr/bin/env node
// The binary leg: the end-to-end contract suites that matter for a standalone binary, run against
// dist-bin/clef-agent instead of `node dist/src/main.js` (test/kit/agent.ts reads
// CLEF_AGENT_TEST_BINARY), plus test/binary/.
// Usage: node scripts/test-binary.mjs [substring filter ...]   (default: the set below)
// Builds the tests (tsc) and, when dist-bin/clef-agent is missing, the binary.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const binary = process.env.CLEF_AGENT_TEST_BINARY ?? join(root, 'dist-bin', 'clef-agent');

/** One or more suites per thing the binary must do as the node build does. */
const SUITES = [
  'test/binary/', // runs alone from an empty directory, --version, pack, temp dir removed at exit
  'e2e/http-routes', // cached mode: every route
  'e2e/jit-contract', // JIT mode
  'e2e/kms-cached', // AWS SDK (lazily imported, bundled) for a KMS envelope
  'e2e/kms-jit',
  'e2e/source-s3', // a remote source, SigV4
  'e2e/source-vcs',
  'e2e/validation-signature', // signature verification in the workers
  'e2e/http-process', // SIGUSR1 refused, SIGTERM/SIGINT while serving
  'e2e/lifecycle-daemon', // daemon lifecycle
  'e2e/telemetry-metrics', // the OpenTelemetry SDK and prom-client (lazily imported, bundled): logs and metrics over OTLP
  'e2e/lambda-', // the Lambda extension lifecycle, and the layer packed with this binary (no node on PATH)
];

function run(command, args, env = process.env) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit', env });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

run('npm', ['run', 'build']);
if (!existsSync(binary)) run(process.execPath, [join(root, 'scripts', 'build-binary.mjs')]);
const filters = process.argv.length > 2 ? process.argv.slice(2) : SUITES;
console.log(`--- the binary leg: ${binary}`);
run(process.execPath, [join(root, 'scripts', 'run-tests.mjs'), ...filters], { ...process.env, CLEF_AGENT_TEST_BINARY: binary });
