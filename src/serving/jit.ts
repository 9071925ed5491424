import type { ArtifactMeta, EncryptedArtifact, ServeRequest, ServeResult, TaskFailure } from '../../common/protocol.js';
import { ApiError } from '../errors.js';
import type { WorkerPool } from '../pool.js';
import type { Refresher } from '../refresh/refresher.js';
import type { Loaded, RefreshSink } from '../refresh/sink.js';
import type { Clock } from '../refresh/timers.js';
import type { ServingState } from '../refresh/schedule.js';
import { isKmsFailure, type RefreshRecorder } from '../telemetry/recorder.js';
import type { FailureLog } from './failure-log.js';
import { JitBatcher } from './jit-batch.js';
import { SpareBodies } from './spare-bodies.js';
import { healthBody, readiness, stateOf } from './health.js';
import type { Body, Readiness, Scope, SecretOptions, ServingMode } from './mode.js';

interface Current {
  readonly meta: ArtifactMeta;
  readonly artifact: EncryptedArtifact;
  readonly keyCount: number;
}

/**
 * JIT mode (SPEC §5.2, CACHE_TTL=0): the main thread holds only the verified, still-encrypted
 * artifact. Every secrets-route request — HEAD and `/v1/keys` included — is one decryption in a
 * worker that returns exactly the response body; the main thread writes it, then zeroes it.
 * Requests that arrive together share a pool task (jit-batch.ts), never a decryption.
 * No plaintext is held between requests, and the event loop never decrypts.
 */
export class JitMode implements ServingMode, RefreshSink {
  readonly name = 'jit' as const;
  private current: Current | undefined;
  private refresher!: Refresher;
  private readonly batcher: JitBatcher;
  /** Written bodies, wiped, on their way back to the workers (spare-bodies.ts). */
  private readonly spares = new SpareBodies();

  constructor(
    pool: WorkerPool,
    private readonly maxStaleSeconds: number,
    decryptTimeoutMs: number,
    private readonly clock: Clock = Date.now,
    /** Where failed requests are told to the operator (rate-limited); none in unit tests. */
    private readonly failures?: FailureLog,
    /** KMS Decrypt calls of requests (only with the operations listener configured). */
    private readonly metrics?: Pick<RefreshRecorder, 'kmsDecrypt'>,
  ) {
    this.batcher = new JitBatcher(pool, decryptTimeoutMs, this.spares);
  }

  attach(refresher: Refresher): void {
    this.refresher = refresher;
  }

  accept(meta: ArtifactMeta, loaded: Loaded): void {
    if (loaded.kind !== 'artifact') throw new Error('JIT mode needs the encrypted artifact');
    this.current = { meta, artifact: loaded.artifact, keyCount: loaded.keyCount };
    this.spares.clear();
  }

  drop(): void {
    // Requests that arrived before the drop go to the workers now, before they are replaced: a
    // worker started after a revocation must never derive the revoked artifact's key.
    this.batcher.flush();
    this.current = undefined;
    this.spares.clear();
  }

  hasData(): boolean {
    return this.current !== undefined;
  }

  close(): void {
    this.batcher.flush();
    this.current = undefined;
    this.failures?.flush();
  }

  health(): Record<string, unknown> {
    return healthBody(this.name, this.refresher.status, this.state(), this.current?.keyCount ?? 0);
  }

  ready(): Readiness {
    return readiness(this.state());
  }

  // A scoped token's namespaces travel with its request: the worker builds only the scope's body.
  secrets(scope?: Scope): Promise<Body> {
    return this.serve(scope?.namespaces === undefined ? { route: 'secrets' } : { route: 'secrets', namespaces: scope.namespaces });
  }

  keys(scope?: Scope): Promise<Body> {
    return this.serve(scope?.namespaces === undefined ? { route: 'keys' } : { route: 'keys', namespaces: scope.namespaces });
  }

  secret(name: string, { plain, scope }: SecretOptions): Promise<Body> {
    return this.serve(scope?.namespaces === undefined ? { route: 'secret', name, plain } : { route: 'secret', name, plain, namespaces: scope.namespaces });
  }

  /** From the verified artifact's metadata: a conditional request that matches costs no worker task. */
  servableHash(): string | undefined {
    return this.state() === 'ok' ? this.current?.meta.ciphertextHash : undefined;
  }

  private state(): ServingState {
    // age artifacts stop being served after MAX_STALE without a successful refresh (SPEC §4.3).
    // KMS artifacts are gated by KMS instead: every request's Decrypt is the freshness proof.
    const freshness = this.current?.meta.encryption === 'kms' ? Number.POSITIVE_INFINITY : this.maxStaleSeconds;
    return stateOf(this.refresher.status, { nowMs: this.clock(), loaded: this.current !== undefined, freshnessSeconds: freshness });
  }

  /** A request is answered from the artifact that was current when it arrived. */
  private async serve(request: ServeRequest): Promise<Body> {
    const state = this.state();
    const current = this.current;
    if (state !== 'ok' || current === undefined) throw new ApiError(state === 'ok' ? 'not_loaded' : state);
    const r = await this.batcher.serve(current.artifact, request);
    // Every request on a KMS artifact calls Decrypt (SPEC §5.2); the result says how it went.
    if (this.metrics !== undefined && current.meta.encryption === 'kms' && (r.ok || isKmsFailure(r.code))) this.metrics.kmsDecrypt(r.ok ? undefined : r.code);
    if (!r.ok) {
      // The failure table names the answer: a KMS denial and an outage are told apart (SPEC §5.2),
      // a full queue says when to retry. The agent keeps serving; the next request may succeed.
      const err = ApiError.forFailure(r.code);
      this.failures?.failed(err.reason, r.message);
      throw err;
    }
    this.failures?.succeeded();
    return toBody(r, this.spares, current.meta.ciphertextHash);
  }
}

function toBody(r: Exclude<ServeResult, TaskFailure>, spares: SpareBodies, ciphertextHash: string): Body {
  if (r.status === 404) throw new ApiError('not_found');
  if (r.status === 409) throw new ApiError('ambiguous_key', { extra: { candidates: r.candidates } });
  // A view on the transferred buffer (the body's own, whole): no copy. Zeroed once written (or the
  // client went away), then kept to go back to a worker.
  const buffer = r.body.buffer as ArrayBuffer;
  const bytes = Buffer.from(buffer, r.body.byteOffset, r.body.byteLength);
  return { contentType: r.contentType, bytes, release: () => spares.keep(buffer), ciphertextHash };
}
