/**
 * Freshness settings (SPEC §3, §4.1): CACHE_TTL, MAX_STALE and POLL_INTERVAL, and the rules that
 * tie them together. Their defaults and bounds are in the settings table (variables.ts).
 */
import { refuse, type Issues } from './errors.js';
import { integer, read, shownDigits, type Env } from './parse.js';
import {
  DEFAULT_CACHE_TTL,
  DEFAULT_MAX_STALE,
  MAX_CACHE_TTL,
  MAX_MAX_STALE,
  MAX_POLL_INTERVAL,
  MIN_CACHE_TTL,
  MIN_MAX_STALE,
  MIN_POLL_INTERVAL,
  VARIABLES,
} from './variables.js';

const TTL = VARIABLES.cacheTtl.name;
const STALE = VARIABLES.maxStale.name;
const POLL = VARIABLES.pollInterval.name;

const TTL_EXPECTED = `0 (JIT mode) or an integer of at least ${MIN_CACHE_TTL} seconds`;
const TTL_MAX_EXPECTED = `0 (JIT mode) or an integer from ${MIN_CACHE_TTL} to ${MAX_CACHE_TTL} seconds (7 days)`;

export const MAX_STALE_IGNORED_WARNING = `${STALE} only applies in JIT mode (${TTL}=0); it is ignored`;

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
