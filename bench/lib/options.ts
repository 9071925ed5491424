/** `npm run bench -- [options]`: profiles and flags. */

export const BENCH_USAGE = `Usage: npm run bench -- [options]

  (default)            quick profile: per measurement 1 s warm-up + 3 × 5 s, median of 3 (~4.5 min)
  --full               the full profile: 2 s warm-up + 3 × 10 s, median of 3 (~8.5 min)
  --seconds N          measured seconds per repetition (1-60)
  --reps N             repetitions per measurement, median reported (1-9)
  --warmup N           unmeasured seconds before the repetitions (0-30)
  --no-pin             do not pin processes with taskset
  --no-build           do not rebuild dist/ first (scripts/bench.mjs)
  --out DIR            results directory (default bench/results)
  --baseline           also refresh the committed baseline: bench/results/baseline.md and
                       bench/baseline.svg
  --pool-sizing        pool-sizing mode instead: JIT agents with 1..N workers on every CPU, compared
                       (~2 min quick; the evidence for the default worker count)
  --metrics-overhead   metrics-overhead mode instead: cached and JIT agents with and without
                       CLEF_AGENT_OPS_ADDR, req/s on ÷ off (target >= 0.95)
  --notify             change-notification mode instead (SPEC §10.2): JIT ÷ cached 304 req/s
                       (target >= 0.9, and no worker task for a JIT 304), and what 1000 idle long
                       polls cost the cached agent (RSS < 10 MiB more, req/s within 5 %)
  --footprint          footprint only: start-up and idle RSS beside a bare node (~1 min; every
                       default or --full run includes it)
  --soak MINUTES       soak mode instead (1-120): steady load, RSS and event-loop delay over time
  --soak-mode MODE     jit (default) or cached
  --rate N             soak only: total requests/s (default: closed loop, 32 connections)
`;

export interface Profile {
  readonly name: 'quick' | 'full' | 'custom';
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly reps: number;
  /** The same in every profile, so runs compare. */
  readonly connections: number;
  /** Requests/s of the low-rate `/v1/health` client that runs beside the load. */
  readonly healthRate: number;
}

export interface BenchOptions {
  readonly profile: Profile;
  readonly pin: boolean;
  readonly baseline: boolean;
  readonly out?: string | undefined;
  readonly soak?: { readonly minutes: number; readonly mode: 'jit' | 'cached'; readonly rate?: number | undefined } | undefined;
  readonly poolSizing?: boolean | undefined;
  readonly metricsOverhead?: boolean | undefined;
  readonly notify?: boolean | undefined;
  readonly footprintOnly?: boolean | undefined;
}

export const PROFILES = {
  quick: { name: 'quick', warmupSeconds: 1, seconds: 5, reps: 3, connections: 32, healthRate: 50 },
  full: { name: 'full', warmupSeconds: 2, seconds: 10, reps: 3, connections: 32, healthRate: 50 },
} as const satisfies Record<string, Profile>;

export function parseBenchArgs(argv: readonly string[]): BenchOptions | 'help' {
  let profile: Profile = PROFILES.quick;
  let pin = true;
  let baseline = false;
  let out: string | undefined;
  let soakMinutes: number | undefined;
  let soakMode: 'jit' | 'cached' = 'jit';
  let rate: number | undefined;
  let poolSizing = false;
  let metricsOverhead = false;
  let notify = false;
  let footprintOnly = false;
  const custom: { -readonly [K in 'seconds' | 'reps' | 'warmupSeconds']?: number } = {};
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${arg} needs a value`);
      return v;
    };
    switch (arg) {
      case '--help':
      case '-h':
        return 'help';
      case '--full':
        profile = PROFILES.full;
        break;
      case '--no-pin':
        pin = false;
        break;
      case '--baseline':
        baseline = true;
        break;
      case '--pool-sizing':
        poolSizing = true;
        break;
      case '--metrics-overhead':
        metricsOverhead = true;
        break;
      case '--notify':
        notify = true;
        break;
      case '--footprint':
        footprintOnly = true;
        break;
      case '--no-build':
        break; // handled by scripts/bench.mjs
      case '--seconds':
        custom.seconds = num(arg, value(), 1, 60);
        break;
      case '--reps':
        custom.reps = int(arg, value(), 1, 9);
        break;
      case '--warmup':
        custom.warmupSeconds = num(arg, value(), 0, 30);
        break;
      case '--out':
        out = value();
        break;
      case '--soak':
        soakMinutes = num(arg, value(), 1, 120);
        break;
      case '--soak-mode': {
        const m = value();
        if (m !== 'jit' && m !== 'cached') throw new Error('--soak-mode must be jit or cached');
        soakMode = m;
        break;
      }
      case '--rate':
        rate = num(arg, value(), 1, 1_000_000);
        break;
      default:
        throw new Error(`unknown option ${JSON.stringify(arg.slice(0, 40))}`);
    }
  }
  if (Object.keys(custom).length > 0) profile = { ...profile, ...custom, name: 'custom' };
  if (poolSizing && (soakMinutes !== undefined || baseline)) throw new Error('--pool-sizing runs alone (no --soak, no --baseline)');
  if (metricsOverhead && (poolSizing || soakMinutes !== undefined || baseline))
    throw new Error('--metrics-overhead runs alone (no --pool-sizing, --soak or --baseline)');
  if (notify && (poolSizing || metricsOverhead || footprintOnly || soakMinutes !== undefined || baseline))
    throw new Error('--notify runs alone (no --pool-sizing, --metrics-overhead, --footprint, --soak or --baseline)');
  if (footprintOnly && (poolSizing || metricsOverhead || soakMinutes !== undefined || baseline))
    throw new Error('--footprint runs alone (no --pool-sizing, --metrics-overhead, --soak or --baseline)');
  return {
    profile,
    pin,
    baseline,
    out,
    soak: soakMinutes === undefined ? undefined : { minutes: soakMinutes, mode: soakMode, rate },
    poolSizing,
    metricsOverhead,
    notify,
    footprintOnly,
  };
}

function num(flag: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < min || n > max) throw new Error(`${flag} must be a number from ${min} to ${max}`);
  return n;
}

function int(flag: string, raw: string, min: number, max: number): number {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new Error(`${flag} must be an integer from ${min} to ${max}`);
  return n;
}

export function profileLine(p: Profile): string {
  return `${p.name} profile: ${p.connections} connections, ${p.warmupSeconds} s warm-up + ${p.reps} × ${p.seconds} s per measurement, median of ${p.reps}; /v1/health probed at ${p.healthRate} req/s beside the load`;
}
