/**
 * The API's error vocabulary (SPEC §5): every `reason` code, its HTTP status and its short message,
 * in one table. Nothing else in the code base picks a status for an error.
 */

export type Reason =
  | 'too_many_connections'
  | 'proxied_request'
  | 'forbidden_host'
  | 'not_found'
  | 'method_not_allowed'
  | 'unauthorized'
  | 'ambiguous_key'
  | 'not_loaded'
  | 'cache_expired'
  | 'revoked'
  | 'expired'
  | 'overloaded'
  | 'kms_denied'
  | 'kms_unavailable'
  | 'decrypt_failed'
  | 'timeout';

interface ReasonInfo {
  readonly status: number;
  /** Short and generic: never says which part of a credential was wrong, never echoes input. */
  readonly error: string;
}

export const REASONS: Readonly<Record<Reason, ReasonInfo>> = {
  too_many_connections: { status: 429, error: 'too many connections' },
  proxied_request: { status: 400, error: 'proxied requests are refused' },
  forbidden_host: { status: 403, error: 'forbidden host' },
  not_found: { status: 404, error: 'not found' },
  method_not_allowed: { status: 405, error: 'method not allowed' },
  unauthorized: { status: 401, error: 'unauthorized' },
  ambiguous_key: { status: 409, error: 'ambiguous key' },
  not_loaded: { status: 503, error: 'secrets not loaded yet' },
  cache_expired: { status: 503, error: 'secrets expired: no successful refresh within the cache TTL' },
  revoked: { status: 503, error: 'the artifact was revoked' },
  expired: { status: 503, error: 'the artifact has expired' },
  overloaded: { status: 503, error: 'overloaded, retry later' },
  kms_denied: { status: 503, error: 'KMS denied the decryption' },
  kms_unavailable: { status: 503, error: 'KMS is unavailable' },
  decrypt_failed: { status: 503, error: 'decryption failed' },
  timeout: { status: 503, error: 'timed out' },
};

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
    this.headers = options.headers;
  }

  /** The response body: `{"error","reason",...extra}`. */
  body(): string {
    return JSON.stringify({ error: this.message, reason: this.reason, ...this.extra });
  }
}
