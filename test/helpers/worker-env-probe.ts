/**
 * Preloaded with `--import` (through NODE_OPTIONS) into an agent process: records the environment
 * every worker thread starts with — its `env` option, or else the copy of process.env a worker gets
 * at that moment — as one JSON line per worker in the file named by CLEF_TEST_WORKER_ENV.
 */
import { appendFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import workerThreads, { type WorkerOptions } from 'node:worker_threads';

const file = process.env['CLEF_TEST_WORKER_ENV'];
if (file !== undefined) {
  const out = file;
  const Original = workerThreads.Worker;
  class Recorded extends Original {
    constructor(filename: string | URL, options?: WorkerOptions) {
      const env = options?.env;
      appendFileSync(out, `${JSON.stringify({ env: env === undefined ? { ...process.env } : typeof env === 'object' ? env : 'shared' })}\n`);
      super(filename, options);
    }
  }
  // piscina looks Worker up on the module's exports when it starts one; ES imports see it after the sync.
  (workerThreads as { Worker: typeof Original }).Worker = Recorded;
  syncBuiltinESMExports();
}
