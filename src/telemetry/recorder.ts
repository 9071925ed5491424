/**
 * What the instrumented code tells the metrics (SPEC §8). Plain calls on pre-bound cells: the
 * implementation (metrics.ts, which loads prom-client) is imported only when the operations listener
 * is configured, so an agent without it carries `undefined` here and pays one branch.
 */
import { FAILURES, type FailureCode } from '../../common/failures.js';
import type { Task } from '../../common/protocol.js';

/** The route a request matched; `unmatched` for every 404 and for requests refused before routing. */
export type RequestRoute = 'health' | 'ready' | 'secrets' | 'secret' | 'keys' | 'refresh' | 'metrics' | 'unmatched';
export type Listener = 'api' | 'ops';
/** Why a request or task was turned away for load: the pool's queue was full, or the connection cap. */
export type Rejection = 'queue_full' | 'too_many_connections';
export type RefreshOutcome = 'loaded' | 'loaded_from_disk' | 'unchanged' | 'revoked' | 'expired' | 'failed';
export type TaskKind = Task['type'];

/** One listener's request counting: resolve the listener once, then count per request. */
export interface RequestRecorder {
  request(route: RequestRoute, status: number, seconds: number): void;
  /** An authenticated request, by the token's name (`main` or a scoped token's name from the file). */
  authenticated?(route: RequestRoute, token: string, status: number): void;
  rejected(why: Rejection): void;
}

export interface PoolRecorder {
  /** A task settled after `seconds` (queueing included), whatever its result. */
  task(kind: TaskKind, seconds: number): void;
  rejected(why: Rejection): void;
}

export interface RefreshRecorder {
  refreshed(outcome: RefreshOutcome, reason?: FailureCode): void;
  /** A KMS Decrypt call whose outcome a worker result reported (ok, or the failure code). */
  kmsDecrypt(failure?: FailureCode): void;
}

/** Whether a failed task's code says a KMS Decrypt call was made and failed (its credentials included). */
export function isKmsFailure(code: FailureCode): boolean {
  const c = FAILURES[code].category;
  return c === 'kms' || c === 'credentials';
}
