import { createHash } from 'node:crypto';
import type { DiskCachePolicy, RollbackState } from '../../common/protocol.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { WorkerPool } from '../pool.js';

/**
 * The refresh loop's side of the disk cache (SPEC §4.4): the policy each load task carries (the
 * workers read and write the copy), purging it when the served artifact must be dropped, and the
 * workers' warnings logged once at warn level rather than on every poll.
 */
export class DiskCacheControl {
  /** Undefined when CLEF_AGENT_CACHE_PATH is not set: no disk cache at all. */
  readonly policy: DiskCachePolicy | undefined;
  /** The last warning logged at warn level (repeats go to debug). */
  private lastWarning: string | undefined;
  /** The rollback state writes, one after another, so an older state never lands after a newer one. */
  private stateWrites: Promise<void> = Promise.resolve();

  constructor(
    config: Config,
    mode: 'cached' | 'jit',
    private readonly log: Logger,
    private readonly pool: Pick<WorkerPool, 'run'>,
  ) {
    this.policy = diskCachePolicy(config, mode);
  }

  /** Remove the copy (revocation, expiry, a replayed older artifact); the rollback state file stays. Failures are logged, not thrown. */
  purge(): void {
    const p = this.policy;
    if (p === undefined) return;
    // The files are the workers' to touch: the purge is a pool task like every other cache access.
    void this.pool.run({ type: 'purgeCache', dir: p.dir, name: p.name }).then((r) => {
      if (!r.ok) this.log.warn({ event: 'cache.warning' }, r.message);
    });
  }

  /**
   * The persisted rollback state, read before the first load: `null` without a cache path or
   * without a file yet; a string is why the file cannot be used (the start is refused).
   */
  async readState(nowMs: number): Promise<RollbackState | null | string> {
    const p = this.policy;
    if (p === undefined) return null;
    const r = await this.pool.run({ type: 'readState', dir: p.dir, name: p.name, nowMs });
    return r.ok ? r.state : r.message;
  }

  /** Queue a write of `state` after any pending one. A failed write is logged: the protection then lasts for this process only. */
  writeState(state: RollbackState): void {
    const p = this.policy;
    if (p === undefined) return;
    this.stateWrites = this.stateWrites.then(async () => {
      const r = await this.pool.run({ type: 'writeState', dir: p.dir, name: p.name, state });
      if (!r.ok) this.log.warn({ event: 'state.write_failed', code: r.code }, `${r.message}; a restart may forget the rollback floor or a revocation`);
    });
  }

  /** Resolves once every queued state write has finished (before the pool is destroyed). */
  flushState(): Promise<void> {
    return this.stateWrites;
  }

  logWarnings(warnings: readonly string[] | undefined): void {
    for (const w of warnings ?? []) {
      const repeat = w === this.lastWarning;
      this.lastWarning = w;
      if (repeat) this.log.debug({ event: 'cache.warning' }, w);
      else this.log.warn({ event: 'cache.warning' }, w);
    }
  }
}

/**
 * The file name derives from the masked source label, so a changed source never loads another
 * source's copy and no credential shapes the name. JIT keeps a copy up to MAX_STALE (it holds no
 * plaintext to expire), cached mode up to its TTL.
 */
function diskCachePolicy(config: Config, mode: 'cached' | 'jit'): DiskCachePolicy | undefined {
  if (config.cachePath === undefined) return undefined;
  const name = `clef-${createHash('sha256').update(config.sourceLabel).digest('hex').slice(0, 24)}`;
  const maxAgeMs = (mode === 'jit' ? config.maxStale : config.cacheTtl) * 1000;
  return { dir: config.cachePath, name, maxAgeMs, kmsAnyAge: mode === 'jit' };
}
