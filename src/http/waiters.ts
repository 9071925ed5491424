/**
 * The long-poll waiters of SPEC §10.2: requests parked until the artifact changes or their wait
 * ends. Bounded (CLEF_AGENT_MAX_WAITERS), woken all in one pass, and timed out by ONE shared timer:
 * deadlines fall into LONG_POLL_BUCKET_MS-wide buckets and the timer is armed for the earliest
 * bucket only, so a thousand idle waiters cost a thousand small objects and one timer, never a
 * timer each. Shared by every listener, so the cap is the agent's.
 */
import { LONG_POLL_BUCKET_MS } from '../../common/limits.js';
import type { Clock, TimerHandle, Timers } from '../refresh/timers.js';

/** Why a waiter is being answered: the artifact (or its state) changed, its wait ended, or the agent stops. */
export type WakeReason = 'changed' | 'deadline' | 'closing';

export interface Waiter {
  /** The bucket it sits in; undefined once it left the set (woken, timed out or removed). */
  bucket: number | undefined;
  readonly wake: (why: WakeReason) => void;
}

export class Waiters {
  private readonly buckets = new Map<number, Set<Waiter>>();
  private count = 0;
  private timer: TimerHandle | undefined;
  /** The bucket the timer is armed for. */
  private armedFor: number | undefined;
  private closed = false;

  constructor(
    readonly max: number,
    private readonly clock: Clock,
    private readonly timers: Timers,
  ) {}

  /** Waiters parked right now. */
  get size(): number {
    return this.count;
  }

  get closing(): boolean {
    return this.closed;
  }

  /**
   * Park `wake` until `deadlineMs` (epoch ms). `full` at the cap; `closed` once the agent stops:
   * the caller answers at once.
   */
  add(deadlineMs: number, wake: (why: WakeReason) => void): Waiter | 'full' | 'closed' {
    if (this.closed) return 'closed';
    if (this.count >= this.max) return 'full';
    // Rounded up: a waiter is never answered before its deadline.
    const bucket = Math.ceil(deadlineMs / LONG_POLL_BUCKET_MS);
    const w: Waiter = { bucket, wake };
    let set = this.buckets.get(bucket);
    if (set === undefined) {
      set = new Set();
      this.buckets.set(bucket, set);
    }
    set.add(w);
    this.count++;
    if (this.armedFor === undefined || bucket < this.armedFor) this.arm(bucket);
    return w;
  }

  /** The client went away: forget it. Idempotent (a woken waiter is already gone). */
  remove(w: Waiter): void {
    const b = w.bucket;
    if (b === undefined) return;
    w.bucket = undefined;
    const set = this.buckets.get(b);
    if (set === undefined) return;
    set.delete(w);
    this.count--;
    if (set.size === 0) this.buckets.delete(b);
    // An armed timer for an emptied bucket fires once, finds nothing and re-arms: cheaper than a rescan here.
    if (this.count === 0) this.disarm();
  }

  /**
   * The artifact or its state changed: every waiter parked now is woken, in one pass. A waiter
   * that finds its tag still current parks itself again (a new `add`), into the next pass's set.
   */
  wakeAll(): void {
    this.drain('changed');
  }

  /** The agent stops: answer every waiter now and refuse new ones. */
  close(): void {
    this.closed = true;
    this.drain('closing');
  }

  private drain(why: WakeReason): void {
    if (this.count === 0) return;
    const parked = [...this.buckets.values()];
    this.buckets.clear();
    this.count = 0;
    this.disarm();
    for (const set of parked) this.wakeEach(set, why);
  }

  private wakeEach(set: Set<Waiter>, why: WakeReason): void {
    for (const w of set) {
      w.bucket = undefined;
      w.wake(why);
    }
  }

  private arm(bucket: number): void {
    this.timers.clearTimeout(this.timer);
    this.armedFor = bucket;
    this.timer = this.timers.setTimeout(() => this.fire(), Math.max(0, bucket * LONG_POLL_BUCKET_MS - this.clock()));
    // The waiting sockets keep the process alive, not this timer: a stop is never held up by it.
    this.timer.unref();
  }

  private disarm(): void {
    this.timers.clearTimeout(this.timer);
    this.timer = undefined;
    this.armedFor = undefined;
  }

  /** Answer every bucket whose time has come, then arm for the earliest left. */
  private fire(): void {
    this.timer = undefined;
    this.armedFor = undefined;
    const due = Math.floor(this.clock() / LONG_POLL_BUCKET_MS);
    const expired: Set<Waiter>[] = [];
    let next: number | undefined;
    for (const [b, set] of this.buckets) {
      if (b <= due) {
        expired.push(set);
        this.buckets.delete(b);
        this.count -= set.size;
      } else if (next === undefined || b < next) next = b;
    }
    if (next !== undefined) this.arm(next);
    // After the bookkeeping: a woken waiter may park again (it cannot, past its deadline, but a
    // callback must never find the set half-updated).
    for (const set of expired) this.wakeEach(set, 'deadline');
  }
}
