import { REQUEST_REFRESH_DEADLINE_MS } from '../../common/limits.js';
import type { ArtifactMeta } from '../../common/protocol.js';
import { ApiError } from '../errors.js';
import type { Refresher } from '../refresh/refresher.js';
import type { ServingState } from '../refresh/schedule.js';
import type { Loaded, RefreshSink } from '../refresh/sink.js';
import { realTimers, type Clock, type TimerHandle, type Timers } from '../refresh/timers.js';
import { healthBody, readiness, stateOf } from './health.js';
import type { Body, Readiness, Scope, SecretOptions, ServingMode } from './mode.js';
import { Snapshot } from './snapshot.js';
import { SnapshotStore } from './store.js';

/**
 * Cached mode (SPEC §5.2): the decrypted snapshot lives in node-cache on the main thread, with
 * every response body serialized once by the worker that built it.
 */
export class CachedMode implements ServingMode, RefreshSink {
  readonly name = 'cached' as const;
  private readonly store = new SnapshotStore();
  private refresher!: Refresher;

  constructor(
    private readonly ttlSeconds: number,
    private readonly clock: Clock = Date.now,
    private readonly timers: Timers = realTimers,
  ) {}

  /** Wired after construction: the refresher needs this mode as its sink. */
  attach(refresher: Refresher): void {
    this.refresher = refresher;
    refresher.afterPoll = () => this.wipeIfStale();
  }

  accept(meta: ArtifactMeta, loaded: Loaded): void {
    if (loaded.kind !== 'snapshot') throw new Error('cached mode needs a decrypted snapshot');
    this.store.swap(new Snapshot(meta, loaded.snapshot));
  }

  drop(): void {
    this.store.wipe();
  }

  hasData(): boolean {
    return this.store.get() !== undefined;
  }

  close(): void {
    this.store.close();
  }

  health(): Record<string, unknown> {
    return healthBody(this.name, this.refresher.status, this.state(), this.store.get()?.keyCount ?? 0);
  }

  ready(): Readiness {
    return readiness(this.state());
  }

  secrets(scope?: Scope): Body | Promise<Body> {
    return this.withSnapshot((snap) => ({
      contentType: 'application/json',
      bytes: scope?.namespaces === undefined ? snap.secretsBody : snap.scoped(scope).secretsBody,
      release: this.store.acquire(snap),
      ciphertextHash: snap.meta.ciphertextHash,
    }));
  }

  keys(scope?: Scope): Body | Promise<Body> {
    return this.withSnapshot((snap) => ({
      contentType: 'application/json',
      bytes: scope?.namespaces === undefined ? snap.keysBody : snap.scoped(scope).keysBody,
      release: this.store.acquire(snap),
      ciphertextHash: snap.meta.ciphertextHash,
    }));
  }

  servableHash(): string | undefined {
    return this.state() === 'ok' ? this.store.get()?.meta.ciphertextHash : undefined;
  }

  secret(name: string, { plain, scope }: SecretOptions): Body | Promise<Body> {
    return this.withSnapshot((snap) => {
      // A key outside the scope is as missing as an unknown one (404), and only in-scope keys are candidates.
      const found = scope?.namespaces === undefined ? snap.lookup(name) : snap.scoped(scope).lookup(name);
      if (found.kind === 'missing') throw new ApiError('not_found');
      if (found.kind === 'ambiguous') throw new ApiError('ambiguous_key', { extra: { candidates: found.candidates } });
      const release = this.store.acquire(snap);
      const ciphertextHash = snap.meta.ciphertextHash;
      return plain
        ? { contentType: 'text/plain', bytes: found.entry.value, release, ciphertextHash }
        : { contentType: 'application/json', bytes: found.entry.json, release, ciphertextHash };
    });
  }

  /** Answer from the current snapshot: synchronously when it is fresh, after one refresh when not. */
  private withSnapshot(answer: (snap: Snapshot) => Body): Body | Promise<Body> {
    if (this.state() === 'ok') {
      const snap = this.store.get();
      if (snap) return answer(snap);
    }
    return this.snapshotForRequest().then(answer);
  }

  private state(): ServingState {
    // Loaded once and not since revoked or expired: an empty store then means the TTL wiped it.
    const s = this.refresher.status;
    return stateOf(s, { nowMs: this.clock(), loaded: s.lastSuccessAt !== undefined, freshnessSeconds: this.ttlSeconds });
  }

  /**
   * The snapshot a request is answered from. Once the TTL ran out, the request first tries one
   * refresh (shared with concurrent requests, bounded by a deadline), then gives up with 503.
   */
  private async snapshotForRequest(): Promise<Snapshot> {
    let state = this.state();
    if (state === 'cache_expired') {
      await withDeadline(this.refresher.refresh('request'), REQUEST_REFRESH_DEADLINE_MS, this.timers);
      state = this.state();
      if (state === 'cache_expired') this.wipeStale();
    }
    if (state !== 'ok') throw new ApiError(state);
    const snap = this.store.get();
    if (!snap) throw new ApiError('cache_expired');
    return snap;
  }

  /** After a failed poll: a snapshot past its TTL is plaintext nobody may read; drop it. */
  private wipeIfStale(): void {
    if (this.state() === 'cache_expired' && this.hasData()) this.wipeStale();
  }

  private wipeStale(): void {
    if (this.hasData()) {
      const s = this.refresher.status;
      this.refresher.events.emit(
        'cache.expired',
        {
          ttl: this.ttlSeconds,
          revision: s.meta?.revision,
          lastRefreshAt: s.lastSuccessAt === undefined ? undefined : new Date(s.lastSuccessAt).toISOString(),
        },
        `no successful refresh for ${this.ttlSeconds} s (CLEF_AGENT_CACHE_TTL): secrets dropped, answering 503 cache_expired until a refresh succeeds`,
      );
    }
    this.store.wipe();
    this.refresher.forgetServedBytes();
  }
}

async function withDeadline(p: Promise<unknown>, ms: number, timers: Timers): Promise<void> {
  let timer: TimerHandle | undefined;
  await Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    new Promise<void>((resolve) => (timer = timers.setTimeout(resolve, ms))),
  ]);
  timers.clearTimeout(timer);
}
