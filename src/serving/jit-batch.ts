import { performance } from 'node:perf_hooks';
import { JIT_BATCH_MAX } from '../../common/limits.js';
import type { EncryptedArtifact, ServeRequest, ServeResult } from '../../common/protocol.js';
import type { WorkerPool } from '../pool.js';
import type { SpareBodies } from './spare-bodies.js';

/** What the batcher needs of the pool. */
export type BatchPool = Pick<WorkerPool, 'admit' | 'runBatch' | 'size'>;

interface Waiting {
  readonly request: ServeRequest;
  readonly arrivedAt: number;
  readonly answer: (r: ServeResult) => void;
}

/**
 * JIT dispatch: the requests that arrive in one event-loop turn go to the workers together, one
 * task per artifact (and per JIT_BATCH_MAX requests, and split across the workers), instead of
 * one pool round trip and one worker wake-up each. The worker still decrypts once per request.
 *
 * The turn ends at `setImmediate`, not a microtask: Node drains microtasks after every I/O
 * callback, so a microtask boundary would only group requests read from one socket (pipelining);
 * the check phase comes once the poll phase has read every socket that was ready. No timer: a
 * lone request leaves in the same turn it arrived.
 */
export class JitBatcher {
  /** By artifact: a request is answered from the one current when it arrived, never batched across. */
  private waiting = new Map<EncryptedArtifact, Waiting[]>();
  private scheduled = false;

  constructor(
    private readonly pool: BatchPool,
    private readonly deadlineMs: number,
    /** Written bodies' buffers, moved back with the tasks for the workers to decrypt into. */
    private readonly spares?: SpareBodies,
  ) {}

  /** One request. A full queue answers `overloaded` at once; nothing is held for it. */
  serve(artifact: EncryptedArtifact, request: ServeRequest): Promise<ServeResult> {
    const refused = this.pool.admit();
    if (refused !== undefined) return Promise.resolve(refused);
    return new Promise((answer) => {
      const arrivedAt = performance.now();
      const group = this.waiting.get(artifact);
      if (group === undefined) this.waiting.set(artifact, [{ request, arrivedAt, answer }]);
      else group.push({ request, arrivedAt, answer });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.flush);
      }
    });
  }

  /** Hand every waiting request to the pool now (the turn ended, or the workers are about to be replaced). */
  readonly flush = (): void => {
    this.scheduled = false;
    if (this.waiting.size === 0) return;
    const groups = this.waiting;
    this.waiting = new Map();
    for (const [artifact, group] of groups) {
      let at = 0;
      for (const n of batchSizes(group.length, this.pool.size)) {
        this.run(artifact, group.slice(at, at + n));
        at += n;
      }
    }
  };

  private run(artifact: EncryptedArtifact, part: readonly Waiting[]): void {
    const first = part[0];
    if (first === undefined) return;
    // KMS plaintexts come out of the decipher in buffers of its own: spares would only travel.
    const spare = artifact.kms === undefined ? this.spares?.take(part.length) : undefined;
    const extra = spare === undefined ? {} : { spare };
    const task =
      part.length === 1
        ? ({ type: 'serve', artifact, request: first.request, ...extra } as const)
        : ({ type: 'serveBatch', artifact, requests: part.map((w) => w.request), ...extra } as const);
    const answers = this.pool.runBatch(task, { deadlineMs: this.deadlineMs, arrivedAt: part.map((w) => w.arrivedAt), late: wipe });
    for (const [i, w] of part.entries()) void answers[i]?.then(w.answer);
  }
}

/**
 * How `n` requests on one artifact are cut into tasks: at most JIT_BATCH_MAX each, and at least one
 * per worker while there are requests enough, so a burst is spread over the pool rather than
 * decrypted one after another in one worker. Sizes differ by at most one.
 */
export function batchSizes(n: number, workers: number): number[] {
  if (n <= 0) return [];
  const parts = Math.max(Math.ceil(n / JIT_BATCH_MAX), Math.min(n, Math.max(1, workers)));
  const base = Math.floor(n / parts);
  const extra = n % parts;
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0));
}

/** A body that came after its request's deadline answered it: written nowhere, wiped here. */
function wipe(r: ServeResult): void {
  if (r.ok && r.status === 200) r.body.fill(0);
}
