import { performance } from 'node:perf_hooks';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { TASKS_PER_WORKER } from '../common/limits.js';
import type { Task, TaskFailure, TaskResults, WorkerInit } from '../common/protocol.js';
import { taskFailure } from '../common/task-failure.js';
import type { PoolRecorder } from './telemetry/recorder.js';
import { seaWorkerEnv, seaWorkerFile } from './sea.js';

/** The compiled worker entry: dist/workers/index.js, next to dist/src/ (in the binary: src/sea.ts). */
const WORKER_FILE = new URL('../workers/index.js', import.meta.url);

export interface PoolOptions {
  readonly size: number;
  readonly init: WorkerInit;
  /** Tasks that may wait for a worker; past it `run` answers `overloaded` at once. */
  readonly maxQueue: number;
  /** Task durations and queue-full rejections (only with the operations listener configured). */
  readonly metrics?: PoolRecorder | undefined;
  /**
   * Workers idle this long exit and are started again for the next task (cached mode: see
   * IDLE_WORKER_EXIT_MS). Unset: `size` workers stay up, as JIT requests need them at once.
   */
  readonly idleExitMs?: number | undefined;
}

export interface RunOptions {
  /**
   * Deadline for the task. Past it `run` answers `task_timeout`; a task still running one more
   * deadline later gets its workers terminated and replaced.
   */
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
  /** Tasks handed to piscina and not settled yet (queued ones included). */
  private inFlight = 0;

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

  /** Tasks running in a worker right now (handed over, not queued, not settled); counted only with metrics on. */
  get running(): number {
    return Math.max(0, this.inFlight - this.piscina.queueSize);
  }

  /**
   * Run one task. Never throws: a full queue, a passed deadline and a crashed worker all resolve to
   * a tagged failure (`overloaded`, `task_timeout`, `internal`), so callers handle one shape.
   */
  async run<T extends Task>(task: T, options: RunOptions = {}): Promise<TaskResults[T['type']]> {
    // Checked before queueing, so a flood is refused in O(1) instead of growing memory.
    if (this.piscina.queueSize >= this.options.maxQueue) {
      this.options.metrics?.rejected('queue_full');
      return taskFailure('overloaded', 'the worker queue is full');
    }
    const state = { overdue: false };
    const settled = this.options.metrics === undefined ? this.attempt(task, state) : this.timed(task, state, this.options.metrics);
    const deadline = options.deadlineMs;
    if (deadline === undefined) return settled;
    // The deadline is our own timer, not an AbortSignal handed to piscina: piscina routes
    // signal-carrying tasks through a side queue that later tasks can overtake, which measured as
    // multi-second tails under load (bench). A late task answers `task_timeout` at once; if it is
    // still running one more deadline later, its worker is stuck and the workers are replaced.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<TaskFailure>((resolve) => {
      timer = setTimeout(() => {
        state.overdue = true;
        resolve(taskFailure('task_timeout', `the worker task exceeded its ${deadline} ms deadline`));
        this.watchOverdue(this.piscina, settled, deadline);
      }, deadline);
    });
    const result = await Promise.race([settled, late]);
    clearTimeout(timer);
    return result;
  }

  /** `attempt`, counted while in flight and timed from the main thread (queueing included). */
  private async timed<T extends Task>(task: T, state: { overdue: boolean }, metrics: PoolRecorder): Promise<TaskResults[T['type']]> {
    const start = performance.now();
    this.inFlight++;
    try {
      return await this.attempt(task, state);
    } finally {
      this.inFlight--;
      metrics.task(task.type, (performance.now() - start) / 1000);
    }
  }

  /**
   * One run of `task`, settled with its result or an `internal` failure. When the workers were
   * replaced under it (a stuck task elsewhere made the pool start over), it runs again on the new
   * workers: every task is idempotent, and it was only a bystander. An overdue task is never run
   * again: its caller has its answer, and it may be the one that was stuck.
   */
  private async attempt<T extends Task>(task: T, state: { overdue: boolean }): Promise<TaskResults[T['type']]> {
    const piscina = this.piscina;
    try {
      return (await piscina.run(task)) as TaskResults[T['type']];
    } catch (err) {
      if (piscina === this.piscina || state.overdue) return taskFailure('internal', `worker failed: ${errorName(err)}`);
      try {
        return (await this.piscina.run(task)) as TaskResults[T['type']];
      } catch (again) {
        return taskFailure('internal', `worker failed: ${errorName(again)}`);
      }
    }
  }

  /** A task passed its deadline: give it one more, then terminate the workers it may be stuck in. */
  private watchOverdue(piscina: Piscina, task: Promise<unknown>, graceMs: number): void {
    let done = false;
    void task.finally(() => (done = true));
    const timer = setTimeout(() => {
      if (done || piscina !== this.piscina) return;
      this.piscina = this.create();
      void piscina.destroy().catch(() => undefined);
    }, graceMs);
    timer.unref();
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
      filename: (seaWorkerFile() ?? WORKER_FILE).href,
      minThreads: this.options.idleExitMs === undefined ? this.options.size : 0,
      maxThreads: this.options.size,
      ...(this.options.idleExitMs === undefined ? {} : { idleTimeout: this.options.idleExitMs }),
      // Workers must never inherit --inspect (SPEC §5.1) or other debugging flags.
      execArgv: [],
      env: seaWorkerEnv(),
      workerData: this.options.init,
      // First in, first out, also for a task a busy worker handed back (the default re-queues it
      // at the tail, which shows as long latency tails under load).
      stricterFIFO: true,
      // Per-task timing histograms cost time on every task and nothing reads them.
      recordTiming: false,
      concurrentTasksPerWorker: TASKS_PER_WORKER,
    });
  }
}

/** Only the error's class/code, never its message: a message could quote bytes it was handed. */
function errorName(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${err.name} (${code})` : err.name;
  }
  return typeof err;
}
