/**
 * The messages that cross the thread line: what the main thread asks the pool to do, and the
 * tagged results that come back. Both `src/` and `workers/` import this module (types only on the
 * main-thread side), so it is the one place to read the worker task list.
 *
 * Results are plain tagged values, never thrown error classes: structured clone drops classes and
 * their fields, so `instanceof` across the boundary cannot work.
 */

/** Where the artifact comes from. S3 and VCS sources are added by later work. */
export type SourceSpec = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'http'; readonly url: string };

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

/**
 * Fetch, validate (§4.3), decrypt and check the payload. Cached mode gets the snapshot back; JIT
 * mode gets the verified, still-encrypted artifact (the decryption only proved the key and the
 * payload, and its plaintext was wiped).
 */
export interface LoadTask {
  readonly type: 'load';
  readonly mode: 'cached' | 'jit';
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

/** JIT mode: what a request asks for. */
export type ServeRequest =
  { readonly route: 'secrets' } | { readonly route: 'keys' } | { readonly route: 'secret'; readonly name: string; readonly plain: boolean };

/** JIT mode (SPEC §5.2): decrypt the artifact current when the request arrived and build its body. */
export interface ServeTask {
  readonly type: 'serve';
  readonly artifact: EncryptedArtifact;
  readonly request: ServeRequest;
}

export type Task = LoadTask | CheckKeyTask | ServeTask;

/**
 * A verified artifact as JIT mode holds it: still encrypted. `ageFile` is the binary age file
 * (base64-decoded and de-armored once, at load) in a SharedArrayBuffer, so per-request tasks pass a
 * reference instead of copying it.
 */
export interface EncryptedArtifact {
  /** The artifact's `ciphertextHash`: the key of each worker's header cache. */
  readonly ciphertextHash: string;
  readonly ageFile: Uint8Array;
}

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
 * Setup: `key_invalid`, `key_unreadable`, `no_key`. Pool: `overloaded` (queue full), `task_timeout`
 * (deadline passed; the worker was replaced). Anything unexpected: `internal`.
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
  | 'overloaded'
  | 'task_timeout'
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
  | {
      readonly ok: true;
      readonly outcome: 'verified';
      readonly meta: ArtifactMeta;
      readonly artifact: EncryptedArtifact;
      /** Number of keys found by the proving decryption. */
      readonly keyCount: number;
      readonly marker?: string | undefined;
      readonly bytesHash: string;
    }
  | { readonly ok: true; readonly outcome: 'revoked'; readonly revokedAt: string }
  | TaskFailure;

export type CheckKeyResult = { readonly ok: true } | TaskFailure;

export type ServeResult =
  | { readonly ok: true; readonly status: 200; readonly contentType: 'application/json' | 'text/plain'; readonly body: Uint8Array }
  | { readonly ok: true; readonly status: 404 }
  | { readonly ok: true; readonly status: 409; readonly candidates: readonly string[] }
  | TaskFailure;

/** Maps each task to its result type, so the pool wrapper is typed per task kind. */
export interface TaskResults {
  load: LoadResult;
  checkKey: CheckKeyResult;
  serve: ServeResult;
}
