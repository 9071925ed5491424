/**
 * The API's error vocabulary (SPEC §5): every `reason` code, its HTTP status and its short message,
 * in one table. Nothing else in the code base picks a status for an error. It sits in `common/` so
 * the failure table (failures.ts) can name the reason each failure code answers with; the main
 * thread's `ApiError` (src/errors.ts) is the only thing that turns a reason into a response.
 */

export type Reason =
  | 'too_many_connections'
  | 'proxied_request'
  | 'invalid_host'
  | 'forbidden_host'
  | 'not_found'
  | 'method_not_allowed'
  | 'unauthorized'
  | 'invalid_wait'
  | 'ambiguous_key'
  | 'not_loaded'
  | 'cache_expired'
  | 'revoked'
  | 'expired'
  | 'overloaded'
  | 'kms_denied'
  | 'kms_unavailable'
  | 'decrypt_failed'
  | 'timeout'
  | 'refresh_rate_limited';

export interface ReasonInfo {
  readonly status: number;
  /** Short and generic: never says which part of a credential was wrong, never echoes input. */
  readonly error: string;
  /** Sent as `Retry-After` (seconds): the client may simply try again this soon. */
  readonly retryAfterSeconds?: number | undefined;
}

export const REASONS: Readonly<Record<Reason, ReasonInfo>> = {
  too_many_connections: { status: 429, error: 'too many connections' },
  proxied_request: { status: 400, error: 'proxied requests are refused' },
  // More than one Host header: RFC 9112 §3.2 asks for 400, and the copies may disagree.
  invalid_host: { status: 400, error: 'invalid host' },
  forbidden_host: { status: 403, error: 'forbidden host' },
  not_found: { status: 404, error: 'not found' },
  method_not_allowed: { status: 405, error: 'method not allowed' },
  unauthorized: { status: 401, error: 'unauthorized' },
  // `?wait=` on a secrets route (SPEC §10.2); fixed text, never the value sent.
  invalid_wait: { status: 400, error: 'wait must be whole seconds from 1 to 300' },
  ambiguous_key: { status: 409, error: 'ambiguous key' },
  not_loaded: { status: 503, error: 'secrets not loaded yet' },
  cache_expired: { status: 503, error: 'secrets expired: no successful refresh within the cache TTL' },
  revoked: { status: 503, error: 'the artifact was revoked' },
  expired: { status: 503, error: 'the artifact has expired' },
  // The worker queue was full for this one request; a moment later it usually is not.
  overloaded: { status: 503, error: 'overloaded, retry later', retryAfterSeconds: 1 },
  kms_denied: { status: 503, error: 'KMS denied the decryption' },
  kms_unavailable: { status: 503, error: 'KMS is unavailable' },
  decrypt_failed: { status: 503, error: 'decryption failed' },
  timeout: { status: 503, error: 'timed out' },
  // POST /v1/refresh at most once per MANUAL_REFRESH_INTERVAL_MS (SPEC §10.5); Retry-After says when.
  refresh_rate_limited: { status: 429, error: 'refresh requested too often, retry later' },
};
