/**
 * The fuzz suites' time box and replay settings. By default each suite runs a bounded number of
 * cases within a few seconds (CI runs the whole suite on two Node versions); CLEF_AGENT_FUZZ_SECONDS
 * runs longer (the case cap is lifted), CLEF_AGENT_FUZZ_SEED (and CLEF_AGENT_FUZZ_PATH, as
 * fast-check prints it on failure) replays a failing run.
 */
import type { Parameters as FcParameters } from 'fast-check';

export interface Budget {
  readonly seed: number;
  readonly seconds: number;
  readonly numRuns: number;
  /** fast-check settings: seeded, count- and time-bounded, a time-out is not a failure. */
  fc<T>(): FcParameters<T>;
  /** One line for the test output: what ran, and how to replay it. */
  summary(cases: number): string;
}

const envSeconds = Number(process.env['CLEF_AGENT_FUZZ_SECONDS'] ?? NaN);
const envSeed = process.env['CLEF_AGENT_FUZZ_SEED'];
const envPath = process.env['CLEF_AGENT_FUZZ_PATH'];

/** True when CLEF_AGENT_FUZZ_SECONDS asked for a longer run. */
export const LONG_RUN = Number.isFinite(envSeconds) && envSeconds > 0;

/** `defaultSeconds`/`defaultRuns` apply unless CLEF_AGENT_FUZZ_SECONDS is set (then time alone bounds the run). */
export function budget(name: string, defaultSeconds: number, defaultRuns: number): Budget {
  const seed = envSeed !== undefined && envSeed !== '' ? Number(envSeed) | 0 : (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
  const seconds = LONG_RUN ? envSeconds : defaultSeconds;
  const numRuns = LONG_RUN ? 1_000_000 : defaultRuns;
  return {
    seed,
    seconds,
    numRuns,
    fc<T>(): FcParameters<T> {
      return {
        seed,
        numRuns,
        ...(envPath ? { path: envPath } : {}),
        interruptAfterTimeLimit: seconds * 1000,
        markInterruptAsFailure: false,
        // A failing case is replayed against live processes: shrink, but not for ever.
        endOnFailure: false,
        // The assertion's message in the report, not only as the error's cause.
        includeErrorInReport: true,
      };
    },
    summary: (cases) => `${name}: ${cases} cases in ≤${seconds} s, seed ${seed} (replay: CLEF_AGENT_FUZZ_SEED=${seed})`,
  };
}
