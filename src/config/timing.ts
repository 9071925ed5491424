/**
 * Freshness settings (SPEC §3, §4.1): CACHE_TTL, MAX_STALE and POLL_INTERVAL, and the rules that
 * tie them together. Upper bounds keep every value × 1000 well under the 2^31-1 ms that Node timers
 * accept (about 24.8 days); beyond it `setTimeout` fires at once.
 */
import { refuse, type Issues } from './errors.js';
import { integer, read, shownDigits, type Env } from './parse.js';

const TTL = 'CLEF_AGENT_CACHE_TTL';
const STALE = 'CLEF_AGENT_MAX_STALE';
const POLL = 'CLEF_AGENT_POLL_INTERVAL';

export const DEFAULT_CACHE_TTL = 300;
export const MIN_CACHE_TTL = 30;
/** 7 days. */
export const MAX_CACHE_TTL = 604_800;
export const DEFAULT_MAX_STALE = 300;
/** Twice the JIT poll interval, so at least one poll can land before the artifact goes stale. */
export const MIN_MAX_STALE = 10;
export const MAX_MAX_STALE = 604_800;
/** SPEC §4.1: never poll more often than every 5 s. */
export const MIN_POLL_INTERVAL = 5;
/** 1 day. */
export const MAX_POLL_INTERVAL = 86_400;

const TTL_EXPECTED = `0 (JIT mode) or an integer of at least ${MIN_CACHE_TTL} seconds`;
const TTL_MAX_EXPECTED = `0 (JIT mode) or an integer from ${MIN_CACHE_TTL} to ${MAX_CACHE_TTL} seconds (7 days)`;

export const MAX_STALE_IGNORED_WARNING = 'CLEF_AGENT_MAX_STALE only applies in JIT mode (CLEF_AGENT_CACHE_TTL=0); it is ignored';

export function parseCacheTtl(raw: string): number {
  // Infinity as the helper's maximum: the bounds that need their own wording are checked below.
  const n = integer(TTL, raw, 0, Number.POSITIVE_INFINITY, TTL_EXPECTED);
  if (n > 0 && n < MIN_CACHE_TTL) refuse(TTL, `${n} is below the minimum`, TTL_EXPECTED);
  if (n > MAX_CACHE_TTL) refuse(TTL, `${shownDigits(raw)} is above the maximum`, TTL_MAX_EXPECTED);
  return n;
}

/** POLL_INTERVAL derived per SPEC §4.1: CACHE_TTL/10 in whole seconds (at least 5), 5 in JIT mode. */
export function derivePollInterval(cacheTtl: number): number {
  return cacheTtl === 0 ? MIN_POLL_INTERVAL : Math.max(MIN_POLL_INTERVAL, Math.floor(cacheTtl / 10));
}

export interface Timing {
  readonly cacheTtl: number;
  readonly maxStale: number;
  readonly pollInterval: number;
  readonly pollIntervalExplicit: boolean;
}

/**
 * An explicit poll interval must be shorter than the window it has to refresh within: CACHE_TTL in
 * cached mode, MAX_STALE in JIT mode. Otherwise the agent would routinely stop serving between two
 * polls, which is a configuration mistake worth refusing rather than a surprise in production.
 */
export function resolveTiming(env: Env, issues: Issues, warnings: string[]): Timing | undefined {
  const rawTtl = read(env, TTL);
  const rawStale = read(env, STALE);
  const rawPoll = read(env, POLL);
  const cacheTtl = rawTtl === undefined ? DEFAULT_CACHE_TTL : issues.run(() => parseCacheTtl(rawTtl));
  const maxStale =
    rawStale === undefined
      ? DEFAULT_MAX_STALE
      : issues.run(() => integer(STALE, rawStale, MIN_MAX_STALE, MAX_MAX_STALE, `an integer from ${MIN_MAX_STALE} to ${MAX_MAX_STALE} seconds`));
  const explicitPoll =
    rawPoll === undefined
      ? undefined
      : issues.run(() => integer(POLL, rawPoll, MIN_POLL_INTERVAL, MAX_POLL_INTERVAL, `an integer from ${MIN_POLL_INTERVAL} to ${MAX_POLL_INTERVAL} seconds`));
  if (cacheTtl === undefined || maxStale === undefined || (rawPoll !== undefined && explicitPoll === undefined)) return undefined;

  if (cacheTtl > 0 && rawStale !== undefined) warnings.push(MAX_STALE_IGNORED_WARNING);
  if (explicitPoll === undefined) {
    return { cacheTtl, maxStale, pollInterval: derivePollInterval(cacheTtl), pollIntervalExplicit: false };
  }
  if (cacheTtl > 0 && explicitPoll >= cacheTtl) {
    issues.add(POLL, `${explicitPoll} is not below ${TTL} (${cacheTtl})`, `an interval shorter than ${TTL}, so a refresh can happen before the cache expires`);
    return undefined;
  }
  if (cacheTtl === 0 && explicitPoll >= maxStale) {
    issues.add(
      POLL,
      `${explicitPoll} is not below ${STALE} (${maxStale})`,
      `an interval shorter than ${STALE} in JIT mode, so a refresh can happen before the artifact goes stale`,
    );
    return undefined;
  }
  return { cacheTtl, maxStale, pollInterval: explicitPoll, pollIntervalExplicit: true };
}
