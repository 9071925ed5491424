/**
 * The messages that cross the thread line: what the main thread asks the pool to do, and the
 * tagged results that come back. Both `src/` and `workers/` import this module (types only on the
 * main-thread side), so it is the one place to read the worker task list.
 *
 * Results are plain tagged values, never thrown error classes: structured clone drops classes and
 * their fields, so `instanceof` across the boundary cannot work.
 */

/** Where the artifact comes from. S3 and VCS sources are added by later work. */
export type SourceSpec =
  | { readonly kind: 'file'; readonly path: string }
  | { readonly kind: 'http'; readonly url: string };

/** How a worker fetches (SPEC §4.2, §5.1). */
export interface FetchPolicy {
  /** Deadline for one HTTP attempt, headers and body together. */
  readonly timeoutMs: number;
  /** Cap on the artifact's size, counted on the bytes after decompression. */
  readonly maxBytes: number;
  /** Extra attempts for transient failures only (network, 5xx, 429, rate-limit 403). */
  readonly retries: number;
  /** Plain http to a non-loopback host is allowed (config already enforced the rule at start-up). */
  readonly allowHttp: boolean;
}

/** What the validator checks beyond the artifact itself (SPEC §4.3 steps 3, 4, 6, 7). */
export interface ValidationPolicy {
  /** Base64 DER SubjectPublicKeyInfo (public material, safe to pass around). */
  readonly verifyKey?: string | undefined;
  readonly expectIdentity?: string | undefined;
  readonly expectEnvironment?: string | undefined;
  /** `packedAt` of the artifact being served: an older one is a rollback. */
  readonly servingPackedAt?: string | undefined;
  /** The caller's clock, epoch ms, so expiry is judged on one clock and tests can inject it. */
  readonly nowMs: number;
}

/** Fetch, validate (§4.3), decrypt, check the payload, and build the cached-mode snapshot. */
export interface LoadTask {
  readonly type: 'load';
  readonly source: SourceSpec;
  readonly fetch: FetchPolicy;
  readonly validation: ValidationPolicy;
  /** Change marker (ETag) of the artifact being served, sent as `If-None-Match`. */
  readonly marker?: string | undefined;
  /** SHA-256 hex of the raw bytes being served: identical bytes skip parsing and decryption. */
  readonly bytesHash?: string | undefined;
}

/** Prove the configured age key parses, before the agent listens. */
export interface CheckKeyTask {
  readonly type: 'checkKey';
}

export type Task = LoadTask | CheckKeyTask;

/** Data every worker receives once, at creation (piscina `workerData`). */
export interface WorkerInit {
  /**
   * The age identity. The main thread never parses it: an inline key is passed as opaque bytes,
   * a key file by path so workers read it themselves.
   */
  readonly ageKey?: { readonly kind: 'file'; readonly path: string } | { readonly kind: 'inline'; readonly bytes: Uint8Array } | undefined;
}

/** Non-secret facts about a verified artifact. */
export interface ArtifactMeta {
  readonly identity: string;
  readonly environment: string;
  readonly revision: string;
  readonly packedAt: string;
  readonly packedAtMs: number;
  readonly expiresAt?: string | undefined;
  readonly expiresAtMs?: number | undefined;
  readonly ciphertextHash: string;
  readonly signed: boolean;
  readonly encryption: 'age' | 'kms';
}

/** A byte range inside a snapshot arena. */
export interface Span {
  readonly offset: number;
  readonly length: number;
}

/** One secret. Names are not secret; the value bytes live only in the arena. */
export interface SnapshotEntry {
  /** `<namespace>__<KEY>`, or `<KEY>` for flat payloads (SPEC §2.1). */
  readonly qualified: string;
  readonly namespace: string | null;
  readonly key: string;
  /** `{"key":"<qualified>","value":"…"}` */
  readonly json: Span;
  /** The bare value, UTF-8 (the `text/plain` answer). */
  readonly value: Span;
}

/**
 * A decrypted payload with every response body already serialized. All secret-bearing bytes are in
 * one arena, transferred (not copied) to the main thread, so wiping a snapshot is one `fill(0)`.
 */
export interface SnapshotWire {
  readonly arena: Uint8Array;
  /** The `/v1/secrets` body. */
  readonly secrets: Span;
  /** The `/v1/keys` body (sorted qualified names). */
  readonly keys: Span;
  readonly entries: readonly SnapshotEntry[];
}

/**
 * Why a task failed. Stable strings: logs, `/v1/health` and telemetry report them.
 * Fetch: `fetch_failed` (network), `fetch_status` (HTTP status, see `status`), `fetch_timeout`,
 * `too_large`, `forbidden_redirect`, `forbidden_address`, `insecure_source`, `source_unreadable`.
 * Validation (SPEC §4.3 order): `invalid_json`, `invalid_shape`, `unsupported_version`,
 * `identity_mismatch`, `expired`, `integrity`, `signature_missing`, `signature_invalid`,
 * `rollback`, `decrypt_failed`, `invalid_payload`, `unsupported_encryption`.
 * Setup: `key_invalid`, `key_unreadable`, `no_key`. Anything unexpected: `internal`.
 */
export type FailureCode =
  | 'fetch_failed'
  | 'fetch_status'
  | 'fetch_timeout'
  | 'too_large'
  | 'forbidden_redirect'
  | 'forbidden_address'
  | 'insecure_source'
  | 'source_unreadable'
  | 'invalid_json'
  | 'invalid_shape'
  | 'unsupported_version'
  | 'identity_mismatch'
  | 'expired'
  | 'integrity'
  | 'signature_missing'
  | 'signature_invalid'
  | 'rollback'
  | 'decrypt_failed'
  | 'invalid_payload'
  | 'unsupported_encryption'
  | 'key_invalid'
  | 'key_unreadable'
  | 'no_key'
  | 'internal';

export interface TaskFailure {
  readonly ok: false;
  readonly code: FailureCode;
  /** Human-readable, safe to log: never a secret value, token or key material. */
  readonly message: string;
  /** HTTP status for `fetch_status`. */
  readonly status?: number | undefined;
}

export type LoadResult =
  | { readonly ok: true; readonly outcome: 'unchanged'; readonly marker?: string | undefined }
  | {
      readonly ok: true;
      readonly outcome: 'loaded';
      readonly meta: ArtifactMeta;
      readonly snapshot: SnapshotWire;
      readonly marker?: string | undefined;
      readonly bytesHash: string;
    }
  | { readonly ok: true; readonly outcome: 'revoked'; readonly revokedAt: string }
  | TaskFailure;

export type CheckKeyResult = { readonly ok: true } | TaskFailure;

/** Maps each task to its result type, so the pool wrapper is typed per task kind. */
export interface TaskResults {
  load: LoadResult;
  checkKey: CheckKeyResult;
}
