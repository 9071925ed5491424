import { Piscina } from 'piscina';
import type { Task, TaskResults, WorkerInit, TaskFailure } from '../common/protocol.js';

/** The compiled worker entry: dist/workers/index.js, next to dist/src/. */
const WORKER_FILE = new URL('../workers/index.js', import.meta.url);

export interface PoolOptions {
  readonly size: number;
  readonly init: WorkerInit;
}

/**
 * The only way the main thread reaches the workers: a typed `run()` per task kind. Everything
 * that touches artifact bytes or key material happens on the other side of this call.
 */
export class WorkerPool {
  private readonly piscina: Piscina;
  readonly size: number;

  constructor(options: PoolOptions) {
    this.size = options.size;
    this.piscina = new Piscina({
      filename: WORKER_FILE.href,
      minThreads: options.size,
      maxThreads: options.size,
      // Workers must never inherit --inspect (SPEC §5.1) or other debugging flags.
      execArgv: [],
      workerData: options.init,
    });
  }

  /**
   * Run one task. A worker that crashes or a task aborted by `signal` resolves to an `internal`
   * failure rather than throwing, so callers handle one result shape.
   */
  async run<T extends Task>(task: T, signal?: AbortSignal): Promise<TaskResults[T['type']]> {
    try {
      return (await this.piscina.run(task, signal ? { signal } : {})) as TaskResults[T['type']];
    } catch (err) {
      const aborted = signal?.aborted === true;
      const failure: TaskFailure = {
        ok: false,
        code: aborted ? 'fetch_timeout' : 'internal',
        message: aborted ? 'the worker task exceeded its deadline' : `worker failed: ${errorName(err)}`,
      };
      return failure;
    }
  }

  async destroy(): Promise<void> {
    await this.piscina.destroy();
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
