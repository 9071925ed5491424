/**
 * The API error the server turns into a response. Its status and message come from the reason table
 * (common/reasons.ts); a failed worker task becomes one through the failure table
 * (common/failures.ts). Nothing else in the code base picks a status for an error.
 */
import { FAILURES, type FailureCode } from '../common/failures.js';
import { REASONS, type Reason } from '../common/reasons.js';

/** A request that ends in an API error. Thrown by handlers, turned into a response by the server. */
export class ApiError extends Error {
  readonly reason: Reason;
  readonly status: number;
  /** Extra JSON fields for the body (e.g. `candidates` for `ambiguous_key`). */
  readonly extra: Readonly<Record<string, unknown>> | undefined;
  /** Extra response headers (e.g. `Allow`, `Retry-After`). */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(reason: Reason, options: { extra?: Record<string, unknown>; headers?: Record<string, string> } = {}) {
    const info = REASONS[reason];
    super(info.error);
    this.name = 'ApiError';
    this.reason = reason;
    this.status = info.status;
    this.extra = options.extra;
    this.headers = info.retryAfterSeconds === undefined ? options.headers : { 'Retry-After': String(info.retryAfterSeconds), ...options.headers };
  }

  /** The error a request answers when its worker task failed with `code`. */
  static forFailure(code: FailureCode): ApiError {
    return new ApiError(FAILURES[code].reason);
  }

  /** The response body: `{"error","reason",...extra}`. */
  body(): string {
    return JSON.stringify({ error: this.message, reason: this.reason, ...this.extra });
  }
}
