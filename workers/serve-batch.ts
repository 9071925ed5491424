/**
 * The JIT `serveBatch` task: the requests that arrived together on one artifact, each served as its
 * own `serve` (serve.ts) — one decryption per request, its plaintext wiped before the next answer is
 * built, so no plaintext is shared between requests (SPEC §5.2). One request's failure (a 404, a
 * KMS denial, an unexpected throw) is its own answer and does not touch the others.
 */
import type { ServeBatchResult, ServeBatchTask, ServeRequest, ServeResult, WorkerInit } from '../common/protocol.js';
import { taskFailure } from '../common/task-failure.js';
import { serve } from './serve.js';
import { keepSpares } from './spares.js';

export async function serveBatch(task: ServeBatchTask, init: WorkerInit): Promise<ServeBatchResult> {
  keepSpares(task.spare);
  const one = (request: ServeRequest): Promise<ServeResult> => serveOne(task, request, init);
  // KMS: each request's Decrypt is a network wait, so they overlap (as separate tasks would). age:
  // one after another, so at most one plaintext exists at a time.
  const results = task.artifact.kms !== undefined ? await Promise.all(task.requests.map(one)) : await inOrder(task.requests, one);
  return { ok: true, results };
}

async function serveOne(task: ServeBatchTask, request: ServeRequest, init: WorkerInit): Promise<ServeResult> {
  try {
    return await serve({ type: 'serve', artifact: task.artifact, request }, init);
  } catch (err) {
    // As workers/index.ts: the class of error only, a message could quote input bytes.
    return taskFailure('internal', `unexpected worker error (${err instanceof Error ? err.name : typeof err})`);
  }
}

async function inOrder(requests: readonly ServeRequest[], each: (r: ServeRequest) => Promise<ServeResult>): Promise<ServeResult[]> {
  const out: ServeResult[] = [];
  for (const r of requests) out.push(await each(r));
  return out;
}

/** The ArrayBuffers of a batch's bodies, to move (not copy) to the main thread. */
export function batchBuffers(r: ServeBatchResult): ArrayBuffer[] {
  if (!r.ok) return [];
  const out: ArrayBuffer[] = [];
  for (const x of r.results) if (x.ok && 'body' in x) out.push(x.body.buffer as ArrayBuffer);
  return out;
}
