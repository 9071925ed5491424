/**
 * Time as the refresh loop and the modes see it: a clock to read and timers to set. Both are
 * injected, so tests drive polls, TTLs and expiry by advancing a fake clock instead of waiting.
 */

/** Epoch milliseconds, now. */
export type Clock = () => number;

/** A pending timer; `unref` lets the process exit while it waits (a no-op for fake timers). */
export interface TimerHandle {
  unref(): unknown;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** Node's own timers. */
export const realTimers: Timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  // Only handles made by the setTimeout above ever reach here.
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout | undefined),
};
