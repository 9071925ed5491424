import { FixedQueue, queueOptionsSymbol, type TaskQueue } from 'piscina';

type QueuedTask = Parameters<TaskQueue['push']>[0];

/** What a task tells the queue through piscina's `queueOptionsSymbol` (never posted: structured clone skips symbol keys). */
export interface QueueOptions {
  /** Requests the task answers (a JIT batch answers several); 1 when absent. */
  readonly requests: number;
}

/** `task` marked as answering `requests` requests, for RequestCountingQueue. */
export function carrying<T extends object>(task: T, requests: number): T {
  const options: QueueOptions = { requests };
  return Object.assign({ [queueOptionsSymbol]: options }, task);
}

/**
 * Piscina's own queue (FixedQueue, its default), also counting the requests its tasks carry, so
 * CLEF_AGENT_MAX_QUEUE counts requests, not tasks, and the check stays O(1). Piscina reads a
 * task's options off it through `queueOptionsSymbol`; the count is kept per task pushed, because a
 * task's options are gone once piscina hands it to a worker.
 */
export class RequestCountingQueue extends FixedQueue {
  private readonly weights = new WeakMap<QueuedTask, number>();
  /** Requests carried by the tasks in this queue. */
  requests = 0;

  override push(task: QueuedTask): void {
    this.count(task);
    super.push(task);
  }

  // piscina's stricterFIFO puts a task a busy worker handed back at the head again.
  override unshift(task: QueuedTask): void {
    this.count(task);
    super.unshift(task);
  }

  override shift(): QueuedTask | null {
    const task = super.shift();
    if (task !== null) this.uncount(task);
    return task;
  }

  override remove(task: QueuedTask): void {
    super.remove(task);
    this.uncount(task);
  }

  private count(task: QueuedTask): void {
    const o = task[queueOptionsSymbol] as Partial<QueueOptions> | null;
    const n = typeof o?.requests === 'number' && o.requests > 0 ? o.requests : 1;
    this.weights.set(task, n);
    this.requests += n;
  }

  private uncount(task: QueuedTask): void {
    this.requests -= this.weights.get(task) ?? 0;
    this.weights.delete(task);
  }
}
