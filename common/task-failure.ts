/**
 * The one builder of `TaskFailure` values, for the workers (every step returns one instead of
 * throwing across the pool boundary) and the main thread (the pool's own `overloaded`,
 * `task_timeout` and `internal` answers, the refresher's `rollback`).
 */
import type { FailureCode } from './failures.js';
import type { TaskFailure } from './protocol.js';

/** A tagged failure; `status` only for `fetch_status`. The message must be safe to log. */
export function taskFailure(code: FailureCode, message: string, status?: number): TaskFailure {
  return status === undefined ? { ok: false, code, message } : { ok: false, code, message, status };
}
