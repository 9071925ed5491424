/**
 * A clock and timers that move only when a test says so. The refresh loop and the modes take both
 * by injection, so a TTL of minutes or an expiry weeks away is a call to `advance`, not a wait.
 */
import type { Clock, TimerHandle, Timers } from '../../src/refresh/timers.js';

/** Node clamps larger delays to 1 ms; the fake refuses them, so an overflow shows as a failure. */
const MAX_DELAY_MS = 2 ** 31 - 1;

interface Pending extends TimerHandle {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

export class FakeTime implements Timers {
  private nowMs: number;
  private seq = 0;
  private pending: Pending[] = [];

  constructor(startMs = Date.parse('2026-03-01T12:00:00.000Z')) {
    this.nowMs = startMs;
  }

  readonly now: Clock = () => this.nowMs;

  setTimeout(fn: () => void, ms: number): TimerHandle {
    if (!(ms >= 0 && ms <= MAX_DELAY_MS)) throw new RangeError(`timer delay ${ms} ms is outside what Node honours`);
    const t: Pending = { at: this.nowMs + ms, seq: this.seq++, fn, unref: () => t };
    this.pending.push(t);
    return t;
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    this.pending = this.pending.filter((t) => t !== handle);
  }

  /** Delays (ms from now) of the timers still pending, soonest first. */
  delays(): number[] {
    return this.pending.map((t) => t.at - this.nowMs).sort((a, b) => a - b);
  }

  /**
   * Move the clock forward by `ms`, firing each timer that falls due at its own instant, in
   * order, and letting the promise chains it starts settle before the next one fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.nowMs + ms;
    await settle();
    for (;;) {
      const next = this.pending.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (next === undefined) break;
      this.pending = this.pending.filter((t) => t !== next);
      this.nowMs = next.at;
      next.fn();
      await settle();
    }
    this.nowMs = target;
    await settle();
  }
}

/** Every promise reaction queued so far has run (the fakes never wait on real I/O). */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
