/**
 * SIGHUP (SPEC §10.5): re-read the token file, the scoped-tokens file and the age key file, then
 * refresh at once (shared with any refresh in flight).
 *
 * Atomic: everything is read and checked first — the files with the start-up rules, the age key file
 * by a worker that reads and parses it without keeping it — and only then is anything replaced: the
 * tokens swapped, and the workers restarted so they read the key file again (the main thread still
 * never reads it). A failure keeps
 * every previous value (tokens, scopes and key alike) and is logged with the variable, the file and
 * the problem, never a token, a hash or key material.
 *
 * What is not re-read: variables (the environment of a running process cannot change), so a token
 * from CLEF_AGENT_TOKEN, a generated one and an inline CLEF_AGENT_AGE_KEY stay as they are.
 */
import { recheckKeyFile } from '../config/age-key.js';
import { ConfigError } from '../config/errors.js';
import { checkDistinct, readScopedTokens, type ScopedToken } from '../config/scoped-tokens.js';
import { rereadTokenFile } from '../config/token.js';
import type { Config } from '../config/types.js';
import type { TokenGuard } from '../http/auth.js';
import type { Logger } from '../log.js';
import type { WorkerPool } from '../pool.js';
import type { Refresher } from '../refresh/refresher.js';

export interface ReloadDeps {
  readonly config: Config;
  readonly guard: TokenGuard;
  readonly pool: Pick<WorkerPool, 'run' | 'reinit' | 'init'>;
  readonly refresher: Pick<Refresher, 'refresh'>;
  readonly log: Logger;
}

/** What a reload read, before anything is replaced. */
interface Plan {
  readonly main: string | undefined;
  readonly scoped: readonly ScopedToken[];
  /** The age key file to prove and hand to new workers (by path), when the key comes from one. */
  readonly keyFile: string | undefined;
  readonly warnings: readonly string[];
}

export class Reloader {
  /** The main token in force (the token file's may change on reload). Secret: never logged. */
  private main: string | undefined;
  /** One reload at a time: a second SIGHUP during one runs after it. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly deps: ReloadDeps) {
    this.main = deps.config.token;
  }

  /** Resolves with true when the new values are in force (false: the old ones were kept), after the refresh. */
  reload(): Promise<boolean> {
    const run = this.queue.then(() => this.once());
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async once(): Promise<boolean> {
    const { config, log } = this.deps;
    log.info({ event: 'reload.started' }, 'SIGHUP: reloading the token file, the scoped-tokens file and the age key file');
    let plan: Plan;
    try {
      plan = this.read();
    } catch (err) {
      this.refused(err instanceof ConfigError ? err.message : `unexpected error (${err instanceof Error ? err.name : typeof err})`);
      return this.refreshAfter(false);
    }
    const ageKey = plan.keyFile === undefined ? undefined : { kind: 'file' as const, path: plan.keyFile };
    if (ageKey !== undefined) {
      // Proven by a worker before any worker is restarted with it; the proof keeps nothing.
      const proof = await this.deps.pool.run({ type: 'checkKey', ageKey });
      if (!proof.ok) {
        this.refused(proof.message);
        return this.refreshAfter(false);
      }
    }
    // Commit: nothing below can fail.
    this.main = plan.main;
    this.deps.guard.replace(plan.main, plan.scoped);
    // New workers read the key file themselves when they start.
    if (ageKey !== undefined) this.deps.pool.reinit({ ...this.deps.pool.init, ageKey });
    for (const w of plan.warnings) log.warn({ event: 'config.warning' }, w);
    log.info(
      {
        event: 'reload.done',
        mainToken: plan.main === undefined ? 'none' : config.tokenOrigin,
        scopedTokens: plan.scoped.map((t) => t.name),
        ageKeyReloaded: ageKey !== undefined,
      },
      `reloaded: ${plan.scoped.length} scoped token(s)${config.tokenFile !== undefined && config.tokenOrigin !== 'env' ? ', the token file' : ''}${ageKey !== undefined ? ', the age key file' : ''}`,
    );
    return this.refreshAfter(true);
  }

  /** Every file read and checked; throws a ConfigError on the first problem. */
  private read(): Plan {
    const { config } = this.deps;
    const warnings: string[] = [];
    let main = this.main;
    // Only a token that came from the file is re-read (an env or generated token cannot change).
    if ((config.tokenOrigin === 'file' || config.tokenOrigin === 'generated-file') && config.tokenFile !== undefined) {
      const t = rereadTokenFile(config.tokenFile);
      main = t.token;
      warnings.push(...t.warnings);
    }
    const scoped = config.tokensFile === undefined ? [] : readScopedTokens(config.tokensFile).tokens;
    checkDistinct(main, scoped);
    const keyFile = config.ageKey?.kind === 'file' ? config.ageKey.path : undefined;
    if (keyFile !== undefined) recheckKeyFile(keyFile, warnings);
    return { main, scoped, keyFile, warnings };
  }

  private refused(why: string): void {
    this.deps.log.error({ event: 'reload.failed' }, `reload failed, keeping every previous value (tokens, scoped tokens, age key): ${why}`);
  }

  /** The refresh a SIGHUP asks for, also when the reload itself failed (the artifact may have changed). */
  private async refreshAfter(ok: boolean): Promise<boolean> {
    const r = await this.deps.refresher.refresh('reload');
    this.deps.log.info(
      { event: 'reload.refreshed', outcome: r.ok ? r.outcome : 'failed', code: r.ok ? undefined : r.code },
      `SIGHUP refresh: ${r.ok ? r.outcome : `failed (${r.code})`}`,
    );
    return ok;
  }
}
