/**
 * Run as a child process: starts the agent's real pool (src/pool.ts) CYCLES times and destroys it
 * after a random delay spread over the workers' start, so some terminations land while a worker is
 * still loading its task module. Exits 0 after the last cycle; a process that aborts (a fatal V8
 * error in Node's module loader) never gets there.
 *
 * argv: <cycles> <min delay ms> <max delay ms> <age key file> [settle]
 * `settle`: each cycle first runs the key check, so a worker has surely loaded its task file.
 */
import { WorkerPool } from '../../src/pool.js';

const [cycles, minDelay, maxDelay, keyFile, mode] = process.argv.slice(2);
const rounds = Number(cycles);
const least = Number(minDelay);
const spread = Number(maxDelay) - least;
let terminatedStarting = 0;
let keyChecks = 0;
for (let i = 0; i < rounds; i++) {
  const pool = new WorkerPool({ size: 2, init: { ageKey: { kind: 'file', path: keyFile ?? '' } }, maxQueue: 1 });
  if (mode === 'settle' && (await pool.run({ type: 'checkKey' })).ok) keyChecks++;
  await new Promise((r) => setTimeout(r, least + Math.random() * spread));
  terminatedStarting += pool.threads.length;
  await pool.destroy();
}
process.stdout.write(`${JSON.stringify({ cycles: rounds, threads: terminatedStarting, keyChecks })}\n`);
