/**
 * The worker pool's options guessed from the raw environment before the configuration is validated
 * (src/cli/early-start.ts), so the workers start while the configuration modules load and check
 * their values instead of after: ~20 ms off a Lambda cold start on two cores (bench/README.md
 * "Lambda cold start").
 *
 * Only a guess, never trusted: `WorkerPool.adopt` takes the validated options and keeps the started
 * workers only when they are the ones those options start (src/pool.ts `sameWorkers`); a wrong guess
 * costs a restart of the workers, never a wrong setting. Nothing here reads a file or judges a value,
 * and a guessed pool runs no task before `adopt`, so no worker reads a key file the configuration
 * has not checked. The variables' rules live in src/config/variables.ts; this module imports none of
 * the configuration, whose loading is what it saves waiting for. test/unit/pool-guess.test.ts holds
 * the guess to loadConfig.
 */
import { resolve } from 'node:path';
import { DEFAULT_MAX_KEYS } from '../common/limits.js';
import { defaultWorkerCount, type CpuProbe } from './config/cpus.js';
import type { PoolOptions } from './pool.js';

type Env = Readonly<Record<string, string | undefined>>;

/**
 * The guess, or undefined when starting early gains nothing: a daemon in cached mode, whose pool
 * starts no worker before its first task (idle workers exit there, src/pool.ts `idleWorkersExit`).
 */
export function guessPoolOptions(env: Env, cwd: string, opts: { readonly lambda: boolean; readonly cpu?: CpuProbe | undefined }): PoolOptions | undefined {
  // Workers stay up in Lambda and in JIT mode (CLEF_AGENT_CACHE_TTL=0).
  if (!opts.lambda && env['CLEF_AGENT_CACHE_TTL'] !== '0') return undefined;
  return {
    size: count(env['CLEF_AGENT_WORKERS']) ?? defaultWorkerCount(opts.cpu),
    init: { ageKey: ageKey(env, cwd), maxKeys: count(env['CLEF_AGENT_MAX_KEYS']) ?? DEFAULT_MAX_KEYS },
    // No request is admitted before `adopt`.
    maxQueue: 0,
    idleExitMs: undefined,
  };
}

function count(raw: string | undefined): number | undefined {
  return raw !== undefined && /^[1-9][0-9]{0,8}$/.test(raw) ? Number(raw) : undefined;
}

function ageKey(env: Env, cwd: string): NonNullable<PoolOptions['init']['ageKey']> | undefined {
  const inline = env['CLEF_AGENT_AGE_KEY'];
  const file = env['CLEF_AGENT_AGE_KEY_FILE'];
  if (inline !== undefined && inline !== '' && file === undefined) {
    // As src/config/age-key.ts: a buffer of its own, since every worker gets a clone of its whole backing store.
    const bytes = Buffer.alloc(Buffer.byteLength(inline, 'utf8'));
    bytes.write(inline, 'utf8');
    return { kind: 'inline', bytes };
  }
  if (file !== undefined && file !== '' && !file.includes('\0') && inline === undefined) return { kind: 'file', path: resolve(cwd, file) };
  return undefined;
}
