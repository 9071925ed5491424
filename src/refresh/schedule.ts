/**
 * The time rules of SPEC §4 as pure functions of an injected clock: when to poll next, and
 * whether the agent may serve. No timers and no I/O here, so every rule is tested in-process.
 */
import { MIN_POLL_SECONDS, POLL_BEFORE_EXPIRY_FRACTION, STARTUP_BACKOFF_BASE_MS } from '../../common/limits.js';

export interface PollInputs {
  readonly nowMs: number;
  /** Configured or derived poll interval, seconds. */
  readonly pollIntervalSeconds: number;
  /** Expiry of the artifact being served, if any. */
  readonly expiresAtMs?: number | undefined;
}

/**
 * Milliseconds until the next poll: the poll interval, or sooner — at 80 % of the time left to
 * `expiresAt` — when that comes first, but never less than 5 s.
 */
export function nextPollDelayMs(p: PollInputs): number {
  let delay = p.pollIntervalSeconds * 1000;
  if (p.expiresAtMs !== undefined) {
    const left = p.expiresAtMs - p.nowMs;
    if (left > 0) delay = Math.min(delay, Math.floor(left * POLL_BEFORE_EXPIRY_FRACTION));
  }
  return Math.max(delay, MIN_POLL_SECONDS * 1000);
}

export type ServingState = 'ok' | 'not_loaded' | 'cache_expired' | 'revoked' | 'expired';

export interface ServingInputs {
  readonly nowMs: number;
  readonly loaded: boolean;
  readonly revoked: boolean;
  /** The served artifact passed its `expiresAt`, or an expired artifact wiped it. */
  readonly expiredFlag: boolean;
  readonly expiresAtMs?: number | undefined;
  /** Epoch ms of the last successful refresh (SPEC §4.1), undefined before the first. */
  readonly lastSuccessAtMs?: number | undefined;
  /** Seconds the agent may serve without a successful refresh. */
  readonly freshnessSeconds: number;
}

/**
 * May the agent serve, and if not, why. Revocation wins over everything (it is the kill
 * switch), then expiry, then whether anything was ever loaded, then freshness.
 */
export function servingState(s: ServingInputs): ServingState {
  if (s.revoked) return 'revoked';
  if (s.expiredFlag) return 'expired';
  if (!s.loaded) return 'not_loaded';
  if (s.expiresAtMs !== undefined && s.nowMs >= s.expiresAtMs) return 'expired';
  if (s.lastSuccessAtMs === undefined || s.nowMs - s.lastSuccessAtMs > s.freshnessSeconds * 1000) return 'cache_expired';
  return 'ok';
}

/** Start-up backoff (SPEC §4.2): delay before attempt `n` (1-based; attempt 1 has none). */
export function startupBackoffMs(attempt: number, baseMs = STARTUP_BACKOFF_BASE_MS): number {
  return attempt <= 1 ? 0 : baseMs * 2 ** (attempt - 2);
}

export interface InvokeInputs extends PollInputs {
  /** JIT mode: every INVOKE is a change check. */
  readonly jit: boolean;
  /** When the last refresh (successful or not) started; undefined before the first. */
  readonly lastAttemptAtMs?: number | undefined;
}

/**
 * Lambda extension (SPEC §6): whether an INVOKE refreshes. The sandbox is frozen between
 * invocations, so no poll timer fires; an INVOKE does what the polls due meanwhile would have done:
 * refresh once the poll delay (the poll interval, `CACHE_TTL/10` by default, or sooner before
 * `expiresAt`) has passed since the last attempt — and so always once `CACHE_TTL` has. Refreshing at
 * the poll cadence rather than only at the TTL keeps a source outage inside the TTL's margin, as
 * for the daemon. JIT mode checks on every INVOKE.
 */
export function invokeRefreshDue(p: InvokeInputs): boolean {
  if (p.jit || p.lastAttemptAtMs === undefined) return true;
  return p.nowMs - p.lastAttemptAtMs >= nextPollDelayMs(p);
}
