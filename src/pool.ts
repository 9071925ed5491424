import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type { Worker } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { IDLE_WORKER_EXIT_MS, TASKS_PER_WORKER, WORKER_YOUNG_GENERATION_MB } from '../common/limits.js';
import type { ServeBatchResult, ServeBatchTask, ServeResult, ServeTask, Task, TaskFailure, TaskResults, WorkerInit } from '../common/protocol.js';
import { taskFailure } from '../common/task-failure.js';
import type { Config } from './config/types.js';
import { carrying, RequestCountingQueue } from './pool-queue.js';
import type { PoolRecorder } from './telemetry/recorder.js';
import { seaWorkerEnv, seaWorkerFile } from './sea.js';

/** The compiled worker entry: dist/workers/index.js, next to dist/src/ (in the binary: src/sea.ts). */
const WORKER_FILE = new URL('../workers/index.js', import.meta.url);

/**
 * What the tsc build's workers load as their task file: a CommonJS file that import()s WORKER_FILE
 * (workers/task.cts says why: Node 20 aborts the process when a worker is terminated while require()
 * instantiates an ES module). The bundles define __BUNDLED_WORKER_ENTRY__: their workers start on
 * the entry itself, which the ES loader loads, and name it as the task file too.
 */
declare const __BUNDLED_WORKER_ENTRY__: boolean | undefined;
const TASK_FILE = typeof __BUNDLED_WORKER_ENTRY__ === 'boolean' && __BUNDLED_WORKER_ENTRY__ ? WORKER_FILE : new URL('../workers/task.cjs', import.meta.url);

/**
 * Where a bundled piscina (the npm package, the image, the binary: scripts/worker-bundle.mjs) starts
 * its workers: the worker entry itself, which there is piscina's worker wrapper and our handler in
 * one file. piscina loaded from node_modules (the tsc build) never reads it and uses its own wrapper.
 */
const PISCINA_WRAPPER_FILE = Symbol.for('clef-agent.piscina-wrapper-file');

export interface PoolOptions {
  readonly size: number;
  readonly init: WorkerInit;
  /** Requests that may wait for a worker (a JIT batch counts its requests); past it `run` and `admit` answer `overloaded` at once. */
  readonly maxQueue: number;
  /** Task durations and queue-full rejections (only with metrics on; also set later by `measure`). */
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

/** JIT requests run as one task (`runBatch`): their deadline, counted from each one's arrival. */
export interface BatchOptions {
  readonly deadlineMs: number;
  /** `performance.now()` when each request arrived, in the order of the task's requests. */
  readonly arrivedAt: readonly number[];
  /** Given a request's result that came after its deadline answered it: a body no one will write, to wipe. */
  readonly late?: ((r: ServeResult) => void) | undefined;
}

type Overdue = { overdue: boolean };

/**
 * The only way the main thread reaches the workers: a typed `run()` per task kind. Everything
 * that touches artifact bytes or key material happens on the other side of this call.
 */
export class WorkerPool {
  private piscina: Piscina;
  /** The current piscina's queue, which counts the requests its tasks carry. */
  private queue = new RequestCountingQueue();
  /** JIT requests admitted (`admit`) and not yet handed to piscina: they wait for a worker too. */
  private admitted = 0;
  private options: PoolOptions;
  /** Tasks handed to piscina and not settled yet (queued ones included). */
  private inFlight = 0;
  /**
   * A guessed pool's inline key copy (`guessed`), which its piscina hands to every worker it
   * starts: wiped once that piscina has ended.
   */
  private guessedKey: { readonly piscina: Piscina; readonly bytes: Uint8Array } | undefined;

  constructor(options: PoolOptions) {
    this.options = options;
    this.piscina = this.create();
  }

  /**
   * A pool started from options guessed from the raw environment (src/pool-guess.ts), before the
   * configuration is validated: its workers start while the configuration loads. No task may run
   * before `adopt` hands it the validated options. It owns the guess's inline key copy.
   */
  static guessed(options: PoolOptions): WorkerPool {
    const pool = new WorkerPool(options);
    const key = options.init.ageKey;
    if (key?.kind === 'inline') pool.guessedKey = { piscina: pool.piscina, bytes: key.bytes };
    return pool;
  }

  /**
   * The validated options, for a pool started from a guess. Its workers are kept when they are the
   * ones these options start (count, idle rule, worker data); otherwise they are replaced now.
   * From here on every new piscina takes these options' worker data.
   */
  adopt(options: PoolOptions): void {
    const guessed = this.options;
    this.options = { ...options, metrics: options.metrics ?? guessed.metrics };
    if (sameWorkers(guessed, options)) return;
    const old = this.piscina;
    this.piscina = this.create();
    this.retire(old, old.destroy());
  }

  /** Worker threads the pool keeps (CLEF_AGENT_WORKERS). */
  get size(): number {
    return this.options.size;
  }

  /**
   * Start recording task durations and rejections (the agent's metrics load after the pool started:
   * src/cli/early-start.ts). Tasks handed over before are not counted; the agent runs none before.
   */
  measure(metrics: PoolRecorder): void {
    this.options = { ...this.options, metrics };
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
   * Run one of the agent's own tasks (a load, the key check, a disk-cache step). Never throws: a
   * passed deadline and a crashed worker resolve to a tagged failure (`task_timeout`, `internal`),
   * so callers handle one shape. Not bounded by CLEF_AGENT_MAX_QUEUE, which bounds requests
   * (`admit`): these come one refresh at a time, and a poll refused because clients filled the
   * queue would be a refresh lost to load (it was logged as a rejected artifact).
   */
  async run<T extends Task>(task: T, options: RunOptions = {}): Promise<TaskResults[T['type']]> {
    const state = { overdue: false };
    const settled = this.settle(task, state);
    const deadline = options.deadlineMs;
    if (deadline === undefined) return settled;
    return this.within(settled, settled, state, deadline, performance.now());
  }

  /**
   * Admit one JIT request into the wait for a worker, in O(1), or refuse it (`overloaded`) when
   * CLEF_AGENT_MAX_QUEUE requests already wait. An admitted request must reach `runBatch`.
   */
  admit(): TaskFailure | undefined {
    if (this.waiting() >= this.options.maxQueue) return this.full();
    this.admitted++;
    return undefined;
  }

  /**
   * Run admitted JIT requests on one artifact as one task — `serve` for one request (exactly
   * today's single task), `serveBatch` for several — and answer each on its own: its result,
   * `task_timeout` at its own deadline, or the task's failure. The stuck-worker rule and the
   * bystander re-run apply to the task as in `run`.
   */
  runBatch(task: ServeTask | ServeBatchTask, options: BatchOptions): Promise<ServeResult>[] {
    const n = task.type === 'serve' ? 1 : task.requests.length;
    const state = { overdue: false };
    const settled: Promise<ServeResult | ServeBatchResult> = task.type === 'serve' ? this.settle(task, state) : this.settle(carrying(task, n), state);
    this.admitted = Math.max(0, this.admitted - n);
    return Array.from({ length: n }, (_, i) => {
      const own = task.type === 'serve' ? (settled as Promise<ServeResult>) : (settled as Promise<ServeBatchResult>).then((r) => pick(r, i));
      return this.within(own, settled, state, options.deadlineMs, options.arrivedAt[i] ?? performance.now(), options.late);
    });
  }

  /** Requests waiting for a worker: admitted ones not handed over yet, and those in queued tasks. */
  private waiting(): number {
    // piscina's queueSize leaves out the tasks its starting workers will take; they sit at the
    // head of the queue and are taken as one request each (exact for every task but a batch).
    const starting = this.queue.size - this.piscina.queueSize;
    return this.admitted + Math.max(0, this.queue.requests - starting);
  }

  private full(): TaskFailure {
    this.options.metrics?.rejected('queue_full');
    return taskFailure('overloaded', 'the worker queue is full');
  }

  private settle<T extends Task>(task: T, state: Overdue): Promise<TaskResults[T['type']]> {
    return this.options.metrics === undefined ? this.attempt(task, state) : this.timed(task, state, this.options.metrics);
  }

  /**
   * `result`, or `task_timeout` once `deadlineMs` from `startedAt` has passed. The deadline is our
   * own timer, not an AbortSignal handed to piscina: piscina routes signal-carrying tasks through a
   * side queue that later tasks can overtake, which measured as multi-second tails under load
   * (bench). A late task answers `task_timeout` at once; if it is still running one more deadline
   * later, its worker is stuck and the workers are replaced.
   */
  private async within<R>(
    result: Promise<R>,
    task: Promise<unknown>,
    state: Overdue,
    deadlineMs: number,
    startedAt: number,
    late?: (r: R) => void,
  ): Promise<R | TaskFailure> {
    let timer: NodeJS.Timeout | undefined;
    let timeout: TaskFailure | undefined;
    const remaining = startedAt + deadlineMs - performance.now();
    const passed = new Promise<TaskFailure>((resolve) => {
      const expire = (): void => {
        timeout = taskFailure('task_timeout', `the worker task exceeded its ${deadlineMs} ms deadline`);
        resolve(timeout);
        if (state.overdue) return;
        state.overdue = true;
        this.watchOverdue(this.piscina, task, deadlineMs);
      };
      // Already past it (a request that waited to be batched): now, not on a 0 ms timer a fast
      // worker's answer could beat.
      if (remaining <= 0) expire();
      else timer = setTimeout(expire, remaining);
    });
    const r = await Promise.race([result, passed]);
    clearTimeout(timer);
    if (r === timeout && late !== undefined) void result.then(late);
    return r;
  }

  /** `attempt`, counted while in flight and timed from the main thread (queueing included). */
  private async timed<T extends Task>(task: T, state: Overdue, metrics: PoolRecorder): Promise<TaskResults[T['type']]> {
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
  private async attempt<T extends Task>(task: T, state: Overdue): Promise<TaskResults[T['type']]> {
    const piscina = this.piscina;
    try {
      return (await piscina.run(task, moving(task))) as TaskResults[T['type']];
    } catch (err) {
      if (piscina === this.piscina || state.overdue) return taskFailure('internal', `worker failed: ${errorName(err)}`);
      try {
        // Its spare buffers went with the first run (moved, detached here): the re-run goes without.
        return (await this.piscina.run(withoutSpares(task))) as TaskResults[T['type']];
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
      this.retire(piscina, piscina.destroy());
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
    this.retire(old, old.close());
  }

  /**
   * New worker data (a reloaded age key, SPEC §10.5): every worker is replaced, so the next task —
   * the next decryption — runs with it. Tasks already running finish on the old workers.
   */
  reinit(init: WorkerInit): void {
    this.options = { ...this.options, init };
    this.recycle();
  }

  /** The worker data new workers get. */
  get init(): WorkerInit {
    return this.options.init;
  }

  async destroy(): Promise<void> {
    const piscina = this.piscina;
    try {
      await piscina.destroy();
    } finally {
      this.ended(piscina);
    }
  }

  /** A replaced piscina ends (`ending`: its close or destroy) and then lets go of what it held. */
  private retire(piscina: Piscina, ending: Promise<void>): void {
    void ending.catch(() => undefined).finally(() => this.ended(piscina));
  }

  /** `piscina` can start no more workers: a guessed key copy only it handed out is wiped. */
  private ended(piscina: Piscina): void {
    if (this.guessedKey?.piscina !== piscina) return;
    this.guessedKey.bytes.fill(0);
    this.guessedKey = undefined;
  }

  private create(): Piscina {
    this.queue = new RequestCountingQueue();
    const sea = seaWorkerFile();
    (globalThis as Record<symbol, unknown>)[PISCINA_WRAPPER_FILE] = fileURLToPath(sea ?? WORKER_FILE);
    return new Piscina({
      taskQueue: this.queue,
      filename: (sea ?? TASK_FILE).href,
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
      resourceLimits: { maxYoungGenerationSizeMb: WORKER_YOUNG_GENERATION_MB },
    });
  }
}

/**
 * The agent's pool, from its configuration: `workers` threads, the age key (an inline key unsealed
 * into the worker data, a key file by path) and the key-count limit. src/cli/early-start.ts starts
 * it before the rest of the main thread loads (where workers start at once, from a guess even
 * before the configuration loads: `WorkerPool.guessed`), so the workers' start-up overlaps that
 * loading. In Lambda the workers stay between invocations (a refresh never waits for one to
 * start); elsewhere idle ones may exit (`idleWorkersExit`).
 */
export function agentPool(config: Config, opts: { readonly lambda?: boolean | undefined } = {}): WorkerPool {
  return new WorkerPool(poolOptions(config, opts));
}

/** The pool's options from the validated configuration (`agentPool`; `WorkerPool.adopt` for a guessed pool). */
export function poolOptions(config: Config, opts: { readonly lambda?: boolean | undefined } = {}): PoolOptions {
  const ageKey = config.ageKey?.kind === 'inline' ? { kind: 'inline' as const, bytes: config.ageKey.sealed.unseal() } : config.ageKey;
  return {
    size: config.workers,
    init: { ageKey, maxKeys: config.maxKeys },
    maxQueue: config.maxQueue,
    idleExitMs: opts.lambda !== true && idleWorkersExit(config) ? IDLE_WORKER_EXIT_MS : undefined,
  };
}

/** Whether two options start the same workers: count, idle rule and worker data (the key compared by value). */
export function sameWorkers(a: PoolOptions, b: PoolOptions): boolean {
  const [x, y] = [a.init.ageKey, b.init.ageKey];
  const sameKey =
    x === undefined || y === undefined
      ? x === y
      : x.kind === 'file'
        ? y.kind === 'file' && x.path === y.path
        : y.kind === 'inline' && Buffer.from(x.bytes.buffer, x.bytes.byteOffset, x.bytes.byteLength).equals(y.bytes);
  return a.size === b.size && a.idleExitMs === b.idleExitMs && a.init.maxKeys === b.init.maxKeys && sameKey;
}

/**
 * Whether idle workers may exit between polls: cached mode only (a JIT request must find a worker
 * up), and not for S3 sources, whose every poll is signed: a new worker would resolve the AWS
 * credentials again (an STS call per poll with web identity) where a kept one reuses them.
 */
export function idleWorkersExit(config: Pick<Config, 'cacheTtl' | 'source'>): boolean {
  return config.cacheTtl !== 0 && config.source.kind !== 's3';
}

/** Only the error's class/code, never its message: a message could quote bytes it was handed. */
function errorName(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code ? `${err.name} (${code})` : err.name;
  }
  return typeof err;
}

/** A serve task's spare buffers are moved to the worker, not copied. */
function moving(task: Task): { transferList: ArrayBuffer[] } | undefined {
  return 'spare' in task && task.spare !== undefined ? { transferList: [...task.spare] } : undefined;
}

function withoutSpares<T extends Task>(task: T): T {
  if (!('spare' in task)) return task;
  const { spare: _moved, ...rest } = task;
  return rest as T;
}

function pick(r: ServeBatchResult, i: number): ServeResult {
  if (!r.ok) return r;
  return r.results[i] ?? taskFailure('internal', 'the worker answered fewer requests than it was given');
}
