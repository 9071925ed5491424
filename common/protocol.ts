/**
 * The messages that cross the thread line: what the main thread asks the pool to do, and the
 * tagged results that come back. Both `src/` and `workers/` import this module (types only on the
 * main-thread side), so it is the one place to read the worker task list.
 *
 * Results are plain tagged values, never thrown error classes: structured clone drops classes and
 * their fields, so `instanceof` across the boundary cannot work.
 */
import type { Envelope } from './artifact.js';
import type { FailureCode } from './failures.js';

/** Where the artifact comes from (SPEC §3). */
export type SourceSpec = { readonly kind: 'file'; readonly path: string } | { readonly kind: 'http'; readonly url: string } | S3SourceSpec | VcsSourceSpec;

/**
 * An S3 object, fetched with a SigV4-signed GET. `url` is the exact request URL (virtual-hosted for
 * AWS, path-style for `AWS_ENDPOINT_URL_S3`), built once by the config so workers only sign it.
 */
export interface S3SourceSpec {
  readonly kind: 's3';
  readonly url: string;
  readonly region: string;
  readonly bucket: string;
  readonly key: string;
}

/** A file in a git host's API (`.clef/packed/<identity>/<environment>.age.json`). */
export interface VcsSourceSpec {
  readonly kind: 'vcs';
  readonly provider: 'github' | 'gitlab' | 'bitbucket';
  readonly repo: string;
  /** Secret: sent only as a request header, never in a URL or a message. */
  readonly token: string;
  /** Repository path of the artifact. */
  readonly path: string;
  /** Branch, tag or sha; absent means the provider's default branch. */
  readonly ref?: string | undefined;
  /** API base without a trailing slash (the public API unless CLEF_AGENT_VCS_API_URL is set). */
  readonly apiUrl: string;
}

/**
 * The disk fallback cache (SPEC §4.4): where the still-encrypted artifact is kept and how old it may
 * be when the source fails.
 */
export interface DiskCachePolicy {
  readonly dir: string;
  /** File-name stem, derived from the (masked) source label so another source never reads it. */
  readonly name: string;
  /** Oldest usable copy: CACHE_TTL (cached mode) or MAX_STALE (JIT), in ms. */
  readonly maxAgeMs: number;
  /** JIT mode: KMS artifacts are gated by KMS on every request, so any age is usable. */
  readonly kmsAnyAge: boolean;
}

/** How a worker fetches (SPEC §4.2, §5.1). */
export interface FetchPolicy {
  /** Deadline for one HTTP attempt, headers and body together. */
  readonly timeoutMs: number;
  /** Cap on the artifact's size, counted on the bytes after decompression. */
  readonly maxBytes: number;
  /** Extra attempts for transient failures only (network, 5xx, 429, rate-limit 403). */
  readonly retries: number;
  /** CLEF_AGENT_ALLOW_HTTP: plain http to a non-loopback host is allowed, credentials included. */
  readonly allowHttp: boolean;
  /**
   * A verify key authenticates the artifact: plain http to a non-loopback host is allowed for a
   * request that carries no credential (no header from the source, no userinfo, no signed query).
   */
  readonly allowHttpWithoutCredentials?: boolean | undefined;
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
  /** Set with CLEF_AGENT_CACHE_PATH. */
  readonly diskCache?: DiskCachePolicy | undefined;
  /** Hand back the telemetry credentials of SPEC §7 found in the payload (until one load succeeded). */
  readonly telemetryCredentials?: boolean | undefined;
}

/**
 * The values of the payload keys `CLEF_TELEMETRY_HEADERS` and `CLEF_TELEMETRY_TOKEN` (flat, or in
 * exactly one namespace): the only plaintext JIT mode may keep (SPEC §5.2). Never logged.
 */
export interface TelemetryCredentials {
  readonly headers?: string | undefined;
  readonly token?: string | undefined;
}

/**
 * Prove the configured age key parses, before the agent listens; with `ageKey`, prove that one
 * instead (a SIGHUP reload, before the workers are given it), without keeping it.
 */
export interface CheckKeyTask {
  readonly type: 'checkKey';
  readonly ageKey?: WorkerInit['ageKey'];
}

/**
 * JIT mode: what a request asks for. `namespaces` is a scoped token's scope (SPEC §10.3): the body
 * is built from those namespaces only (absent: the whole payload, the main token). Each request in
 * a batch carries its own, so a batch never mixes scopes in one body.
 */
export type ServeRequest = (
  { readonly route: 'secrets' } | { readonly route: 'keys' } | { readonly route: 'secret'; readonly name: string; readonly plain: boolean }
) & { readonly namespaces?: readonly string[] | undefined };

/** JIT mode (SPEC §5.2): decrypt the artifact current when the request arrived and build its body. */
export interface ServeTask {
  readonly type: 'serve';
  readonly artifact: EncryptedArtifact;
  readonly request: ServeRequest;
  /** Written bodies' buffers, zeroed, moved back for the worker to decrypt into (SPARE_BODY_BYTES). */
  readonly spare?: readonly ArrayBuffer[];
}

/**
 * JIT mode: several requests that arrived in the same event-loop turn, on the same artifact, as one
 * task (src/serving/jit-batch.ts). The worker still decrypts once per request — no plaintext is
 * shared between requests — and answers `results[i]` for `requests[i]`.
 */
export interface ServeBatchTask {
  readonly type: 'serveBatch';
  readonly artifact: EncryptedArtifact;
  readonly requests: readonly ServeRequest[];
  /** As ServeTask's. */
  readonly spare?: readonly ArrayBuffer[];
}

/**
 * Remove the disk fallback copy (SPEC §4.4: revocation, expiry). A worker task so that every cache
 * file is read, written and deleted on the worker side of the thread line.
 */
export interface PurgeCacheTask {
  readonly type: 'purgeCache';
  readonly dir: string;
  readonly name: string;
}

/**
 * What a restart must not forget (SPEC §4.3 step 7): the newest `packedAt` ever served (the
 * rollback floor) and an active revocation. Kept with CLEF_AGENT_CACHE_PATH in `<name>.state.json`.
 */
export interface RollbackState {
  readonly floor?: string | undefined;
  /** `revokedAt` as the revoking artifact gave it, and when this agent saw it (ISO). */
  readonly revocation?: { readonly revokedAt: string; readonly seenAt: string } | undefined;
}

/** Read the rollback state before the first load; a bad file fails the start. */
export interface ReadStateTask {
  readonly type: 'readState';
  readonly dir: string;
  readonly name: string;
  /** A floor ahead of this clock means the clock went back or the file was edited. */
  readonly nowMs: number;
}

/** Replace the rollback state file (the main thread serializes these, newest last). */
export interface WriteStateTask {
  readonly type: 'writeState';
  readonly dir: string;
  readonly name: string;
  readonly state: RollbackState;
}

export type Task = LoadTask | CheckKeyTask | ServeTask | ServeBatchTask | PurgeCacheTask | ReadStateTask | WriteStateTask;

/**
 * A verified artifact as JIT mode holds it: still encrypted. `ageFile` is the binary age file
 * (base64-decoded and de-armored once, at load) in a SharedArrayBuffer, so per-request tasks pass a
 * reference instead of copying it.
 */
export interface EncryptedArtifact {
  /** The artifact's `ciphertextHash`: the key of each worker's header cache. */
  readonly ciphertextHash: string;
  /** The age file; empty for KMS envelope artifacts (see `kms`). */
  readonly ageFile: Uint8Array;
  /**
   * Present ⇔ KMS envelope artifact (SPEC §2): the envelope, kept so every request can call KMS
   * Decrypt (§5.2: KMS is the live gate), and the AES-256-GCM ciphertext (base64-decoded once, at
   * load) in a SharedArrayBuffer. No data key is ever kept.
   */
  readonly kms?: KmsSealed | undefined;
}

/** A KMS envelope artifact as JIT mode holds it: still sealed (the data key is still wrapped). */
export interface KmsSealed {
  readonly envelope: Envelope;
  readonly ciphertext: Uint8Array;
}

/** Data every worker receives once, at creation (piscina `workerData`). */
export interface WorkerInit {
  /**
   * The age identity. The main thread never parses it: an inline key is passed as opaque bytes,
   * a key file by path so workers read it themselves (also after a SIGHUP reload: the new workers
   * read the file again, once a worker proved it).
   */
  readonly ageKey?: { readonly kind: 'file'; readonly path: string } | { readonly kind: 'inline'; readonly bytes: Uint8Array } | undefined;
  /** CLEF_AGENT_MAX_KEYS: a payload with more keys is refused before any per-key work (default DEFAULT_MAX_KEYS). */
  readonly maxKeys?: number | undefined;
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

/** Why a task failed: a code of the failure table (common/failures.ts), which says what it means. */
export interface TaskFailure {
  readonly ok: false;
  readonly code: FailureCode;
  /** Human-readable, safe to log: never a secret value, token or key material. */
  readonly message: string;
  /** HTTP status for `fetch_status`. */
  readonly status?: number | undefined;
}

/** What the disk cache did during a load (SPEC §4.4); the main thread logs it. */
export interface DiskCacheReport {
  /** Warnings (unwritable directory, corrupted or too old copy…); never secret. */
  readonly warnings?: readonly string[] | undefined;
  /** Set when the artifact came from the disk cache because the source failed. */
  readonly fromDisk?: { readonly fetchedAtMs: number; readonly sourceFailure: TaskFailure } | undefined;
}

export type LoadResult =
  | { readonly ok: true; readonly outcome: 'unchanged'; readonly marker?: string | undefined; readonly cache?: DiskCacheReport | undefined }
  | {
      readonly ok: true;
      readonly outcome: 'loaded';
      readonly meta: ArtifactMeta;
      readonly snapshot: SnapshotWire;
      readonly marker?: string | undefined;
      readonly bytesHash: string;
      readonly cache?: DiskCacheReport | undefined;
      readonly telemetry?: TelemetryCredentials | undefined;
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
      readonly cache?: DiskCacheReport | undefined;
      readonly telemetry?: TelemetryCredentials | undefined;
    }
  | { readonly ok: true; readonly outcome: 'revoked'; readonly revokedAt: string; readonly cache?: DiskCacheReport | undefined }
  | (TaskFailure & { readonly cache?: DiskCacheReport | undefined });

export type CheckKeyResult = { readonly ok: true } | TaskFailure;

export type PurgeCacheResult = { readonly ok: true } | TaskFailure;

/** `state: null`: no state file yet (a fresh start). */
export type ReadStateResult = { readonly ok: true; readonly state: RollbackState | null } | TaskFailure;

export type WriteStateResult = { readonly ok: true } | TaskFailure;

export type ServeResult =
  | { readonly ok: true; readonly status: 200; readonly contentType: 'application/json' | 'text/plain'; readonly body: Uint8Array }
  | { readonly ok: true; readonly status: 404 }
  | { readonly ok: true; readonly status: 409; readonly candidates: readonly string[] }
  | TaskFailure;

/** One result per request, in order; a whole-task failure (a crashed worker) is one failure for all. */
export type ServeBatchResult = { readonly ok: true; readonly results: readonly ServeResult[] } | TaskFailure;

/** Maps each task to its result type, so the pool wrapper is typed per task kind. */
export interface TaskResults {
  load: LoadResult;
  checkKey: CheckKeyResult;
  serve: ServeResult;
  serveBatch: ServeBatchResult;
  purgeCache: PurgeCacheResult;
  readState: ReadStateResult;
  writeState: WriteStateResult;
}
