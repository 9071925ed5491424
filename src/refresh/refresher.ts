import { FAILURES } from '../../common/failures.js';
import { FETCH_RETRIES, FETCH_TIMEOUT_MS, LOAD_DEADLINE_MS, MAX_TIMER_MS } from '../../common/limits.js';
import type { ArtifactMeta, LoadResult, LoadTask, TaskFailure, TelemetryCredentials } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import { Events } from '../telemetry/events.js';
import { isKmsFailure, type RefreshRecorder } from '../telemetry/recorder.js';
import type { WorkerPool } from '../pool.js';
import { DiskCacheControl } from './disk-cache.js';
import { nextPollDelayMs } from './schedule.js';
import type { RefreshSink, RefreshStatus, RefreshTrigger } from './sink.js';
import { realTimers, type Clock, type TimerHandle, type Timers } from './timers.js';

/** The bounds of one refresh: the whole load's deadline, and each fetch attempt's timeout and retries. */
export interface RefreshLimits {
  readonly loadDeadlineMs: number;
  readonly fetchTimeoutMs: number;
  readonly fetchRetries: number;
}

/** The daemon's: a slow source gets time (a poll never holds anything up). */
export const DAEMON_REFRESH_LIMITS: RefreshLimits = { loadDeadlineMs: LOAD_DEADLINE_MS, fetchTimeoutMs: FETCH_TIMEOUT_MS, fetchRetries: FETCH_RETRIES };

/** The pool as the refresh loop uses it (an interface, so tests can script the workers' answers). */
export type RefreshPool = Pick<WorkerPool, 'run' | 'recycle'>;

/**
 * Drives fetch → validate → decrypt in the pool and applies the outcome (SPEC §4). Refreshes are
 * coalesced: a poll and any number of requests that need one share a single worker task.
 */
export class Refresher {
  readonly status: RefreshStatus = { expired: false };
  private marker: string | undefined;
  private bytesHash: string | undefined;
  /**
   * `packedAt` of the newest artifact ever served. Kept across revocation and wipes (it is not
   * secret), so replaying an older artifact cannot end a revocation.
   */
  private rollbackFloor: string | undefined;
  /** When this agent (or, restored, an earlier run) saw the active revocation: ISO. */
  private revocationSeenAt: string | undefined;
  private inFlight: Promise<LoadResult> | undefined;
  private pollTimer: TimerHandle | undefined;
  private expiryTimer: TimerHandle | undefined;
  private stopped = false;
  private readonly disk: DiskCacheControl;
  /** Asked of the workers until one load succeeded (SPEC §5.2: only the first load may keep them). */
  private wantCredentials: boolean;
  private credentials: TelemetryCredentials | undefined;

  constructor(
    private readonly pool: RefreshPool,
    private readonly config: Config,
    private readonly sink: RefreshSink,
    private readonly log: Logger,
    private readonly clock: Clock = Date.now,
    private readonly timers: Timers = realTimers,
    /** Refresh outcomes and KMS calls (only with the operations listener configured). */
    private readonly metrics?: RefreshRecorder,
    readonly events: Events = new Events(log),
    private readonly limits: RefreshLimits = DAEMON_REFRESH_LIMITS,
  ) {
    this.disk = new DiskCacheControl(config, sink.name, log, pool);
    this.wantCredentials = config.telemetry?.logsUrl !== undefined;
  }

  /** The telemetry credentials the first load found, handed over once (the caller keeps them). */
  takeTelemetryCredentials(): TelemetryCredentials | undefined {
    const c = this.credentials;
    this.credentials = undefined;
    return c;
  }

  /**
   * Restore the rollback floor and an active revocation from the state file (CLEF_AGENT_CACHE_PATH),
   * before the first load. Returns why the file cannot be used, if it cannot: the start is refused.
   */
  async restoreState(): Promise<string | undefined> {
    const s = await this.disk.readState(this.clock());
    if (typeof s === 'string') return s;
    if (s === null) return undefined;
    this.rollbackFloor = s.floor;
    if (s.revocation !== undefined) {
      this.status.revokedAt = s.revocation.revokedAt;
      this.revocationSeenAt = s.revocation.seenAt;
    }
    this.log.info(
      { event: 'state.restored', floor: s.floor ?? null, revokedAt: s.revocation?.revokedAt ?? null, revocationSeenAt: s.revocation?.seenAt ?? null },
      s.revocation === undefined ? 'rollback floor restored' : 'rollback floor and an active revocation restored: only a later artifact ends it',
    );
    return undefined;
  }

  /** Resolves once the rollback state is on disk (called before the pool stops). */
  flushState(): Promise<void> {
    return this.disk.flushState();
  }

  private persistState(): void {
    const revokedAt = this.status.revokedAt;
    this.disk.writeState({
      floor: this.rollbackFloor,
      revocation: revokedAt === undefined || this.revocationSeenAt === undefined ? undefined : { revokedAt, seenAt: this.revocationSeenAt },
    });
  }

  /** One refresh, shared with any already running. */
  refresh(trigger: RefreshTrigger): Promise<LoadResult> {
    if (!this.inFlight) {
      this.inFlight = this.runOnce(trigger).finally(() => {
        this.inFlight = undefined;
      });
    }
    return this.inFlight;
  }

  /** Start polling after the first successful load. */
  startPolling(): void {
    this.stopped = false;
    this.schedulePoll();
  }

  stop(): void {
    this.stopped = true;
    this.timers.clearTimeout(this.pollTimer);
    this.timers.clearTimeout(this.expiryTimer);
  }

  /** Forget every trace of the served artifact (it was wiped): the next fetch is a full load. */
  forgetServed(): void {
    this.forgetServedBytes();
    this.status.meta = undefined;
    this.status.lastSuccessAt = undefined;
    this.timers.clearTimeout(this.expiryTimer);
  }

  /** The decrypted data was wiped but the artifact stays known: make the next fetch a full load. */
  forgetServedBytes(): void {
    this.marker = undefined;
    this.bytesHash = undefined;
  }

  private async runOnce(trigger: RefreshTrigger): Promise<LoadResult> {
    const task: LoadTask = {
      type: 'load',
      mode: this.sink.name,
      source: this.config.source,
      fetch: {
        timeoutMs: this.limits.fetchTimeoutMs,
        maxBytes: this.config.maxArtifactBytes,
        retries: this.limits.fetchRetries,
        allowHttp: this.config.allowHttp,
        allowHttpWithoutCredentials: this.config.verifyKey !== undefined,
      },
      validation: {
        verifyKey: this.config.verifyKey,
        expectIdentity: this.config.expectIdentity,
        expectEnvironment: this.config.expectEnvironment,
        servingPackedAt: this.rollbackFloor,
        nowMs: this.clock(),
      },
      marker: this.marker,
      bytesHash: this.bytesHash,
      diskCache: this.disk.policy,
      ...(this.wantCredentials ? { telemetryCredentials: true } : {}),
    };
    this.status.lastAttemptAt = this.clock();
    const result = await this.pool.run(task, { deadlineMs: this.limits.loadDeadlineMs });
    // A stop destroys the pool under a load in flight (a SIGTERM during the first load): that
    // failure says nothing about the artifact, and an `artifact.invalid` error would page someone.
    if (this.stopped && !result.ok) {
      this.log.debug({ event: 'refresh.abandoned', trigger, code: result.code }, 'refresh ended by the stop');
      return result;
    }
    this.apply(result, trigger);
    return result;
  }

  private apply(r: LoadResult, trigger: RefreshTrigger): void {
    const now = this.clock();
    this.disk.logWarnings(r.cache?.warnings);
    this.countKms(r);
    if (!r.ok) {
      this.reject(r, trigger, now);
      return;
    }
    switch (r.outcome) {
      case 'unchanged':
        if (!this.sink.hasData()) {
          this.metrics?.refreshed('unchanged');
          // Nothing held to keep fresh (wiped meanwhile): make the next fetch a full load.
          this.forgetServedBytes();
          return;
        }
        this.metrics?.refreshed('unchanged');
        this.status.lastSuccessAt = now;
        // A successful refresh (SPEC §4.1), like a load: an earlier failure no longer applies.
        this.status.lastError = undefined;
        if (r.marker !== undefined) this.marker = r.marker;
        this.log.debug({ event: 'artifact.unchanged', trigger }, 'artifact unchanged');
        return;
      case 'loaded':
      case 'verified': {
        // Only a *later* artifact ends a revocation (SPEC §4.3 step 1): the pre-revocation file
        // replayed (stale cache, attacker) has the same packedAt, which step 7 alone lets through.
        if (this.status.revokedAt !== undefined && this.rollbackFloor !== undefined && r.meta.packedAtMs <= Date.parse(this.rollbackFloor)) {
          if (r.outcome === 'loaded') r.snapshot.arena.fill(0);
          // The worker cached it as valid; a restart must not serve it from disk either.
          this.disk.purge();
          const message = `artifact packedAt ${r.meta.packedAt} is not later than the last served artifact's ${this.rollbackFloor}: a revocation persisted at ${this.revocationSeenAt ?? 'an unknown time'} is active and only a later artifact ends it`;
          this.reject(taskFailure('rollback', message), trigger, now);
          return;
        }
        const previous = this.status.meta?.revision;
        const fromDisk = r.cache?.fromDisk;
        this.metrics?.refreshed(fromDisk === undefined ? 'loaded' : 'loaded_from_disk', fromDisk?.sourceFailure.code);
        if (fromDisk !== undefined) {
          const f = fromDisk.sourceFailure;
          this.events.emit(
            'fetch.failed',
            { trigger, code: f.code, status: f.status, source: this.config.sourceLabel, fallback: 'disk_cache' },
            `fetch failed: ${f.message}; loading the disk cache copy fetched at ${new Date(fromDisk.fetchedAtMs).toISOString()}`,
          );
        }
        if (this.wantCredentials) {
          this.wantCredentials = false;
          this.credentials = r.telemetry;
        }
        this.sink.accept(
          r.meta,
          r.outcome === 'loaded' ? { kind: 'snapshot', snapshot: r.snapshot } : { kind: 'artifact', artifact: r.artifact, keyCount: r.keyCount },
        );
        this.status.meta = r.meta;
        // A disk copy is not a successful refresh: the TTL keeps counting from when it was fetched
        // (JIT KMS artifacts excepted: KMS gates each request, SPEC §4.4).
        this.status.lastSuccessAt = fromDisk === undefined || (this.sink.name === 'jit' && r.meta.encryption === 'kms') ? now : fromDisk.fetchedAtMs;
        const sf = fromDisk?.sourceFailure;
        this.status.lastError = sf === undefined ? undefined : { code: sf.code, status: sf.status, at: now };
        this.status.expired = false;
        const endedRevocation = this.status.revokedAt !== undefined;
        this.status.revokedAt = undefined;
        this.revocationSeenAt = undefined;
        this.marker = r.marker;
        this.bytesHash = r.bytesHash;
        const floor = laterOf(this.rollbackFloor, r.meta.packedAt);
        const floorRaised = floor !== this.rollbackFloor;
        this.rollbackFloor = floor;
        if (floorRaised || endedRevocation) this.persistState();
        this.scheduleExpiry(r.meta, now);
        this.events.emit(
          'artifact.refreshed',
          {
            trigger,
            revision: r.meta.revision,
            previousRevision: previous,
            packedAt: r.meta.packedAt,
            keys: r.outcome === 'loaded' ? r.snapshot.entries.length : r.keyCount,
            signed: r.meta.signed,
            endedRevocation,
            from: fromDisk === undefined ? 'source' : 'disk_cache',
          },
          'artifact loaded',
        );
        return;
      }
      case 'revoked':
        this.metrics?.refreshed('revoked');
        this.dropEverywhere();
        // A revocation already in force keeps when it was first seen, and is not rewritten on every poll.
        if (this.status.revokedAt !== r.revokedAt || this.revocationSeenAt === undefined) {
          this.revocationSeenAt ??= new Date(now).toISOString();
          this.status.revokedAt = r.revokedAt;
          this.persistState();
        }
        this.status.lastError = { code: 'revoked', at: now };
        this.events.emit('artifact.revoked', { trigger, revokedAt: r.revokedAt }, 'artifact revoked: secrets dropped, serving stopped');
        return;
    }
  }

  private reject(f: TaskFailure, trigger: RefreshTrigger, now: number): void {
    this.metrics?.refreshed('failed', f.code);
    this.status.lastError = { code: f.code, status: f.status, at: now };
    if (f.code === 'expired') {
      this.markExpired('fetched artifact is past its expiresAt');
      return;
    }
    const fetchFailure = FAILURES[f.code].category === 'fetch';
    this.events.emit(
      fetchFailure ? 'fetch.failed' : 'artifact.invalid',
      { trigger, code: f.code, status: f.status, source: this.config.sourceLabel },
      fetchFailure ? `fetch failed: ${f.message}` : `artifact rejected, still serving the last good one if any: ${f.message}`,
    );
  }

  /** A load that decrypted a KMS envelope made one Decrypt call; a KMS or credentials failure is one that failed. */
  private countKms(r: LoadResult): void {
    if (this.metrics === undefined) return;
    if (!r.ok) {
      if (isKmsFailure(r.code)) this.metrics.kmsDecrypt(r.code);
    } else if ((r.outcome === 'loaded' || r.outcome === 'verified') && r.meta.encryption === 'kms') {
      this.metrics.kmsDecrypt();
    }
  }

  /**
   * "Drop every copy" (SPEC §4.3): the mode's data, what this loop remembers of the artifact, and
   * the workers themselves — replaced, so no worker-side key cache survives.
   */
  private dropEverywhere(): void {
    this.sink.drop();
    this.forgetServed();
    this.pool.recycle();
  }

  /** Expiry (SPEC §4.3 step 4): drop every copy and stop serving. */
  markExpired(why: string): void {
    const wasServing = this.status.meta !== undefined;
    this.dropEverywhere();
    // The worker purges the disk copy when it sees an expired artifact; a served one that reaches
    // its expiresAt is only noticed here.
    this.disk.purge();
    this.status.expired = true;
    this.events.emit('artifact.expired', { wasServing }, `artifact expired: ${why}; secrets dropped, serving stopped`);
  }

  private scheduleExpiry(meta: ArtifactMeta, now: number): void {
    this.timers.clearTimeout(this.expiryTimer);
    if (meta.expiresAtMs === undefined) return;
    const delay = Math.max(0, meta.expiresAtMs - now);
    // setTimeout overflows past 2^31-1 ms (~24.8 days); re-check periodically instead.
    this.expiryTimer = this.timers.setTimeout(
      () => {
        if (this.status.meta === meta) {
          if (this.clock() >= (meta.expiresAtMs ?? 0)) this.markExpired('served artifact reached its expiresAt');
          else this.scheduleExpiry(meta, this.clock());
        }
      },
      Math.min(delay, MAX_TIMER_MS),
    );
    this.expiryTimer.unref();
  }

  private schedulePoll(): void {
    if (this.stopped) return;
    this.timers.clearTimeout(this.pollTimer);
    const delay = nextPollDelayMs({ nowMs: this.clock(), pollIntervalSeconds: this.config.pollInterval, expiresAtMs: this.status.meta?.expiresAtMs });
    this.pollTimer = this.timers.setTimeout(() => {
      void this.refresh('poll').finally(() => {
        this.afterPoll?.();
        this.schedulePoll();
      });
    }, delay);
  }

  /** Hook for the mode: runs after every poll (cached mode wipes a snapshot whose TTL ran out). */
  afterPoll: (() => void) | undefined;
}

function laterOf(a: string | undefined, b: string): string {
  if (a === undefined) return b;
  return Date.parse(b) >= Date.parse(a) ? b : a;
}
