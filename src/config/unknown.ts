/**
 * Typo protection: any `CLEF_AGENT_*` variable that is not in the settings table (variables.ts) is
 * refused at start-up, with the nearest known name as a hint (a misspelt `CLEF_AGENT_VERIFY_KEY`
 * would otherwise silently turn signature checking off).
 */
import { quote } from '../../common/display.js';
import type { Issues } from './errors.js';
import type { Env } from './parse.js';
import { KNOWN_VARIABLES } from './variables.js';

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
