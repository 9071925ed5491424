/**
 * The list of settings the agent understands, and typo protection: any other `CLEF_AGENT_*`
 * variable is refused at start-up (a misspelt `CLEF_AGENT_VERIFY_KEY` would otherwise silently
 * turn signature checking off). New settings are added here and documented in the README.
 */
import type { Issues } from './errors.js';
import { type Env } from './parse.js';
import { quote } from '../../common/display.js';

export const KNOWN_VARIABLES = [
  'CLEF_AGENT_SOURCE',
  'CLEF_AGENT_VCS_PROVIDER',
  'CLEF_AGENT_VCS_REPO',
  'CLEF_AGENT_VCS_TOKEN',
  'CLEF_AGENT_VCS_IDENTITY',
  'CLEF_AGENT_VCS_ENVIRONMENT',
  'CLEF_AGENT_VCS_REF',
  'CLEF_AGENT_VCS_API_URL',
  'CLEF_AGENT_AGE_KEY',
  'CLEF_AGENT_AGE_KEY_FILE',
  'CLEF_AGENT_PORT',
  'CLEF_AGENT_TOKEN',
  'CLEF_AGENT_TOKEN_FILE',
  'CLEF_AGENT_ID',
  'CLEF_AGENT_CACHE_TTL',
  'CLEF_AGENT_MAX_STALE',
  'CLEF_AGENT_POLL_INTERVAL',
  'CLEF_AGENT_CACHE_PATH',
  'CLEF_AGENT_VERIFY_KEY',
  'CLEF_AGENT_EXPECT_IDENTITY',
  'CLEF_AGENT_EXPECT_ENVIRONMENT',
  'CLEF_AGENT_ALLOW_HTTP',
  'CLEF_AGENT_TELEMETRY_URL',
  'CLEF_AGENT_LOG_LEVEL',
  'CLEF_AGENT_MAX_ARTIFACT_BYTES',
  'CLEF_AGENT_MAX_CONNECTIONS',
  'CLEF_AGENT_WORKERS',
  'CLEF_AGENT_MAX_QUEUE',
  'CLEF_AGENT_DECRYPT_TIMEOUT_MS',
] as const;

export type KnownVariable = (typeof KNOWN_VARIABLES)[number];

const PREFIX = 'CLEF_AGENT_';
const known: ReadonlySet<string> = new Set(KNOWN_VARIABLES);

/** Levenshtein distance (names are short, so the plain O(n·m) table is fine). */
export function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur.push(Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/**
 * The closest known name, case-insensitively, if it is close enough to be a plausible typo: at most
 * 3 edits, and at most half the length of the known name's suffix (so a two-letter name is not
 * "corrected" to `CLEF_AGENT_ID`).
 */
export function suggest(name: string): string | undefined {
  const upper = name.toUpperCase();
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const k of KNOWN_VARIABLES) {
    const d = editDistance(upper, k);
    if (d < bestDistance && d <= Math.min(3, Math.ceil((k.length - PREFIX.length) / 2))) {
      best = k;
      bestDistance = d;
    }
  }
  return best;
}

/**
 * Refuses unknown `CLEF_AGENT_*` names. The prefix is matched case-insensitively so that
 * `clef_agent_port` (which Linux treats as a different variable) is caught too. Values are never
 * shown: an unknown variable may well hold a secret.
 */
export function checkUnknown(env: Env, issues: Issues): void {
  for (const name of Object.keys(env).sort()) {
    if (!name.toUpperCase().startsWith(PREFIX) || known.has(name)) continue;
    const hint = suggest(name);
    // Names come from the environment too: quote any that could forge a log line.
    const shown = /^[A-Za-z0-9_]+$/.test(name) ? name : quote(name);
    issues.add(
      shown,
      'is not a known setting',
      `one of the CLEF_AGENT_* variables documented in the README${hint === undefined ? '' : ` (did you mean ${hint}?)`}`,
    );
  }
}
