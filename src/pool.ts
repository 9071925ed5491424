import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import type { Task, TaskFailure, TaskResults, WorkerInit } from '../common/protocol.js';

/** The compiled worker entry: dist/workers/index.js, next to dist/src/. */
const WORKER_FILE = new URL('../workers/index.js', import.meta.url);

export interface PoolOptions {
  readonly size: number;
  readonly init: WorkerInit;
  /** Tasks that may wait for a worker; past it `run` answers `overloaded` at once. */
  readonly maxQueue: number;
}

export interface RunOptions {
  /** Deadline for the task. Past it the task is aborted, which terminates its worker if running. */
  readonly deadlineMs?: number;
}

/**
 * The only way the main thread reaches the workers: a typed `run()` per task kind. Everything
 * that touches artifact bytes or key material happens on the other side of this call.
 */
export class WorkerPool {
  private piscina: Piscina;
  readonly size: number;
  private readonly options: PoolOptions;

  constructor(options: PoolOptions) {
    this.options = options;
    this.size = options.size;
    this.piscina = this.create();
  }

  /** The live worker threads (diagnostics: resource usage, fault drills). */
  get threads(): readonly Worker[] {
    return this.piscina.threads;
  }

  /** Tasks waiting for a worker right now. */
  get queued(): number {
    return this.piscina.queueSize;
  }

  /**
   * Run one task. Never throws: a full queue, a passed deadline and a crashed worker all resolve to
   * a tagged failure (`overloaded`, `task_timeout`, `internal`), so callers handle one shape.
   */
  async run<T extends Task>(task: T, options: RunOptions = {}): Promise<TaskResults[T['type']]> {
    // Checked before queueing, so a flood is refused in O(1) instead of growing memory.
    if (this.piscina.queueSize >= this.options.maxQueue) return failure('overloaded', 'the worker queue is full');
    const signal = options.deadlineMs === undefined ? undefined : AbortSignal.timeout(options.deadlineMs);
    try {
      return (await this.piscina.run(task, signal ? { signal } : {})) as TaskResults[T['type']];
    } catch (err) {
      if (signal?.aborted === true) return failure('task_timeout', `the worker task exceeded its ${options.deadlineMs ?? 0} ms deadline`);
      return failure('internal', `worker failed: ${errorName(err)}`);
    }
  }

  /**
   * Replace every worker (SPEC §4.3 "drop every copy"): piscina cannot message each worker to clear
   * its key caches, so new workers take over and the old ones finish what they run, then exit.
   */
  recycle(): void {
    const old = this.piscina;
    this.piscina = this.create();
    void old.close().catch(() => undefined);
  }

  async destroy(): Promise<void> {
    await this.piscina.destroy();
  }

  private create(): Piscina {
    return new Piscina({
      filename: WORKER_FILE.href,
      minThreads: this.options.size,
      maxThreads: this.options.size,
      // Workers must never inherit --inspect (SPEC §5.1) or other debugging flags.
      execArgv: [],
      workerData: this.options.init,
    });
  }
}

function failure(code: TaskFailure['code'], message: string): TaskFailure {
  return { ok: false, code, message };
}

/** Only the error's class/code, never its message: a message could quote bytes it was handed. */
function errorName(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${err.name} (${code})` : err.name;
  }
  return typeof err;
}
