/**
 * The API error the server turns into a response. Its status, message and any `Retry-After` come
 * from the reason table (common/reasons.ts). Nothing else in the code base picks a status for an error.
 */
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

  /** The response body: `{"error","reason",...extra}`. */
  body(): string {
    return JSON.stringify({ error: this.message, reason: this.reason, ...this.extra });
  }
}
