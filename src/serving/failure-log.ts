import { FAILURE_LOG_WINDOW_MS } from '../../common/limits.js';
import type { Logger } from '../log.js';

interface Window {
  readonly startedAt: number;
  suppressed: number;
  timer: NodeJS.Timeout | undefined;
}

/**
 * Failed JIT requests, told to the operator without flooding the log (a KMS outage fails every
 * request). The first failure of a reason is logged at once with the worker's message (worker
 * messages never quote secret bytes); more of the same reason within the window are counted and
 * reported in one line when it ends. When requests succeed again after failures, that is logged
 * once too, so a log reader sees when the outage ended.
 */
export class FailureLog {
  private readonly windows = new Map<string, Window>();
  private failing = false;

  constructor(
    private readonly log: Logger,
    private readonly windowMs: number = FAILURE_LOG_WINDOW_MS,
    private readonly clock: () => number = Date.now,
  ) {}

  failed(reason: string, message: string): void {
    this.failing = true;
    const now = this.clock();
    const w = this.windows.get(reason);
    if (w !== undefined && now - w.startedAt < this.windowMs) {
      w.suppressed++;
      w.timer ??= this.flushLater(reason, w, w.startedAt + this.windowMs - now);
      return;
    }
    this.flush(reason);
    this.log.warn({ event: 'jit.failed', mode: 'jit', reason }, `JIT request failed (${reason}): ${message}`);
    this.windows.set(reason, { startedAt: now, suppressed: 0, timer: undefined });
  }

  succeeded(): void {
    if (!this.failing) return;
    this.failing = false;
    for (const reason of [...this.windows.keys()]) this.flush(reason);
    this.windows.clear();
    this.log.info({ event: 'jit.recovered', mode: 'jit' }, 'JIT requests succeed again');
  }

  /** Reports what a window counted, now (at close, or when a new window or a recovery starts). */
  flush(reason?: string): void {
    for (const r of reason === undefined ? [...this.windows.keys()] : [reason]) {
      const w = this.windows.get(r);
      if (w === undefined) continue;
      clearTimeout(w.timer);
      w.timer = undefined;
      if (w.suppressed > 0) {
        this.log.warn(
          { event: 'jit.failed', mode: 'jit', reason: r, count: w.suppressed },
          `JIT requests failed (${r}): ${w.suppressed} more since the last report`,
        );
        w.suppressed = 0;
      }
    }
  }

  private flushLater(reason: string, w: Window, delayMs: number): NodeJS.Timeout {
    const timer = setTimeout(
      () => {
        w.timer = undefined;
        this.flush(reason);
      },
      Math.max(0, delayMs),
    );
    timer.unref();
    return timer;
  }
}
