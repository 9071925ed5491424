/**
 * How soon the child may be started again. A child that keeps dying right after it starts (a bad
 * secret, a crash loop) or an artifact that keeps changing must not make exec start processes in a
 * tight loop: the wait doubles from 1 s up to 30 s while each child lived less than 10 s, and falls
 * back to none once one lived longer. Pure: the clock is passed in.
 */
export const RESTART_FIRST_DELAY_MS = 1000;
export const RESTART_MAX_DELAY_MS = 30_000;
/** A child that ran this long counts as stable: the next restart needs no wait. */
export const RESTART_STABLE_MS = 10_000;

export class RestartLimiter {
  private lastStartMs: number | undefined;
  private delayMs = 0;

  /** A child was started now. */
  started(nowMs: number): void {
    this.lastStartMs = nowMs;
  }

  /** How long to wait before the next start (and remember it for the one after). */
  nextDelayMs(nowMs: number): number {
    if (this.lastStartMs === undefined) return 0;
    const lived = nowMs - this.lastStartMs;
    if (lived >= RESTART_STABLE_MS) {
      this.delayMs = 0;
      return 0;
    }
    this.delayMs = this.delayMs === 0 ? RESTART_FIRST_DELAY_MS : Math.min(this.delayMs * 2, RESTART_MAX_DELAY_MS);
    return Math.max(0, this.delayMs - lived);
  }
}
