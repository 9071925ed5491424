/**
 * The piscina entry point. Every task resolves to a tagged result (common/protocol.ts); nothing is
 * thrown across the pool boundary, because structured clone loses error classes and fields.
 *
 * The age key comes from `workerData` (piscina passes its `workerData` option straight to
 * `new Worker`, so `node:worker_threads` sees it), read once when the module loads.
 */
import { workerData } from 'node:worker_threads';
import type { TaskResults, Task, WorkerInit } from '../common/protocol.js';
import { purgeCache } from './cache/disk.js';
import { readState, writeState } from './cache/state.js';
import type { HttpDeps } from './fetch/policy.js';
import { getIdentities, parseSpec } from './keys.js';
import { load } from './load.js';
import { movable } from './movable.js';
import { taskFailure } from '../common/task-failure.js';
import { serve } from './serve.js';
import { batchBuffers, serveBatch } from './serve-batch.js';

const init: WorkerInit = isWorkerInit(workerData) ? workerData : {};

/** Runs one task in-process. Exported for tests; the pool calls the default export. */
export async function runTask(task: Task, workerInit: WorkerInit, deps?: HttpDeps): Promise<TaskResults[keyof TaskResults]> {
  try {
    switch (task.type) {
      case 'load':
        return await load(task, workerInit, deps);
      case 'checkKey': {
        const d = task.ageKey === undefined ? getIdentities(workerInit) : parseSpec(task.ageKey);
        return 'ok' in d ? d : { ok: true };
      }
      case 'serve':
        return await serve(task, workerInit);
      case 'serveBatch':
        return await serveBatch(task, workerInit);
      case 'purgeCache':
        return await purgeCache(task.dir, task.name);
      case 'readState':
        return await readState(task.dir, task.name, task.nowMs);
      case 'writeState':
        return await writeState(task.dir, task.name, task.state);
      default:
        return taskFailure('internal', `unknown task type ${String((task as { type?: unknown }).type).slice(0, 40)}`);
    }
  } catch (err) {
    // Unexpected: report the class of error only — a message could quote input bytes.
    const kind = err instanceof Error ? err.name : typeof err;
    return taskFailure('internal', `unexpected worker error (${kind})`);
  }
}

/**
 * Piscina handler. A loaded snapshot's arena and JIT response bodies are moved, not copied, to the
 * main thread: the result is wrapped in a transferable whose transfer items are those ArrayBuffers
 * (each owned exactly by its arena or body; piscina concatenates a list into the transfer list),
 * and piscina unwraps it before posting.
 */
export default async function handler(task: Task): Promise<unknown> {
  const result = await runTask(task, init);
  const buffers = transfers(task, result);
  return buffers.length > 0 ? movable(result, buffers) : result;
}

/** The ArrayBuffers `result` hands over: each body's or the arena's own. Exported for tests. */
export function transfers(task: Task, result: TaskResults[keyof TaskResults]): ArrayBufferLike[] {
  if (!result.ok) return [];
  if (task.type === 'serveBatch' && 'results' in result) return batchBuffers(result);
  if ('outcome' in result && result.outcome === 'loaded') return [result.snapshot.arena.buffer];
  return 'body' in result ? [result.body.buffer] : [];
}

function isWorkerInit(v: unknown): v is WorkerInit {
  return typeof v === 'object' && v !== null;
}
