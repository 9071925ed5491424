/**
 * A pool destroyed while its workers start (shutdown during start-up, a guessed pool replaced, a
 * stuck worker's replacement ended) must stop them, never take the process down. Node 20 aborts the
 * process when a worker is terminated while require() instantiates an ES module graph (fixed in
 * later Node), and piscina's own worker wrapper loads its task file with require() first, so the tsc
 * build names a CommonJS task file that import()s the worker entry (workers/task.cts).
 *
 * The abort needs a termination inside instantiation, a window too short in our module graph to
 * hit on demand (not once in 1,200 churn cycles here; a loaded CI machine hit it once). So
 * the load path is asserted directly (Node's own module-loader trace, NODE_DEBUG=module, in every
 * worker of a real pool), and the churn itself runs as a regression scenario in a child process.
 */
import assert from 'node:assert/strict';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { TempDirs } from '../kit/index.js';
import { ageKeygen } from '../workers/helpers.js';

const dirs = new TempDirs('clef-pool-terminate-');
after(() => dirs.removeAll());

const CHURN = fileURLToPath(new URL('../helpers/pool-churn.js', import.meta.url));
const WORKERS_DIR = fileURLToPath(new URL('../../workers/', import.meta.url));

function keyFile(): string {
  const path = join(dirs.make(), 'age.key');
  writeFileSync(path, `${ageKeygen().identity}\n`);
  chmodSync(path, 0o600);
  return path;
}

function churn(
  cycles: number,
  [minDelayMs, maxDelayMs]: readonly [number, number],
  { env = process.env, settle = false }: { env?: NodeJS.ProcessEnv; settle?: boolean } = {},
): SpawnSyncReturns<string> {
  const args = [CHURN, String(cycles), String(minDelayMs), String(maxDelayMs), keyFile(), ...(settle ? ['settle'] : [])];
  return spawnSync(process.execPath, args, { env, encoding: 'utf8', timeout: 60_000 });
}

describe('a pool destroyed while its workers start', { timeout: 120_000 }, () => {
  test('no worker loads an ES module through require(): piscina’s require() asks only for the .cjs task file from workers/', () => {
    // One cycle whose key check runs in a worker (so one has loaded its task file), then 0.5 s for
    // the other, with Node's loader trace on.
    const run = churn(1, [500, 500], { env: { ...process.env, NODE_DEBUG: 'module' }, settle: true });
    assert.equal(run.status, 0, run.stderr.slice(-2000));
    assert.equal((JSON.parse(run.stdout) as { keyChecks: number }).keyChecks, 1, 'the key check ran in a worker');
    // What each require() asks the CommonJS loader for (the line Node 20 and 26 both print).
    const loaded = [...run.stderr.matchAll(/^MODULE \d+: Module\._load REQUEST (\S+) parent/gm)].map((m) => m[1] ?? '');
    const ours = loaded.filter((f) => f.startsWith(WORKERS_DIR));
    assert.ok(ours.length >= 1, `the workers' task-file loads are in the trace (saw ${JSON.stringify(loaded)})`);
    for (const f of ours) assert.match(f, /\/workers\/task\.cjs$/, `${f} was asked of require()`);
  });

  test('starting and destroying the real pool 60 times, at random points of its workers’ start, ends the process normally', () => {
    const run = churn(60, [0, 80]);
    assert.equal(run.signal, null, `the process was killed by ${String(run.signal)}: ${run.stderr.slice(-2000)}`);
    assert.equal(run.status, 0, run.stderr.slice(-2000));
    assert.deepEqual(JSON.parse(run.stdout), { cycles: 60, threads: 120, keyChecks: 0 });
  });
});
