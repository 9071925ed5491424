/** Command line of `clef-agent loadtest` (also `npm run loadtest -- …`). */

export const LOADTEST_USAGE = `Usage: clef-agent loadtest --url URL [options]

Drives a running clef-agent with a closed-loop HTTP load and prints requests/s and latency.
Exits 1 when a threshold is breached (for CI), 2 on a usage error.

  --url URL            the agent, e.g. http://127.0.0.1:7779 (loopback addresses only:
                       the agent listens on 127.0.0.1, and this tool is no load generator
                       for other hosts)
  --path PATH          route to load (default: the URL's path, else /v1/secrets)
  --token TOKEN        bearer token (default: --token-file, else $CLEF_AGENT_TOKEN)
  --token-file FILE    read the bearer token from FILE (keeps it out of the process list)
  --connections N      concurrent keep-alive connections, 1-1000 (default 32)
  --duration SECONDS   measured time, 0.1-3600 (default 10)
  --warmup SECONDS     unmeasured load first, 0-600 (default 1)
  --rate N             total requests/s across all connections (default: as fast as answered)
  --timeout-ms MS      per-request deadline, counted as an error past it (default 10000)
  --max-p99-ms MS      fail when the p99 latency exceeds MS
  --max-errors N       fail when errors + non-2xx responses exceed N (default 0)
  --json               also print the result as one JSON line (prefix RESULT)
  -h, --help           show this help

Documentation: README.md ("Load-testing a running agent"), shipped in the clef-agent package.
`;

export interface LoadtestArgs {
  readonly url: URL;
  readonly token?: string | undefined;
  readonly tokenFile?: string | undefined;
  readonly connections: number;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly rate?: number | undefined;
  readonly timeoutMs: number;
  readonly maxP99Ms?: number | undefined;
  readonly maxErrors: number;
  readonly json: boolean;
}

export class UsageError extends Error {}

const VALUE_FLAGS = new Set([
  '--url',
  '--path',
  '--token',
  '--token-file',
  '--connections',
  '--duration',
  '--warmup',
  '--rate',
  '--timeout-ms',
  '--max-p99-ms',
  '--max-errors',
]);

export function parseLoadtestArgs(argv: readonly string[]): LoadtestArgs | 'help' {
  const values = new Map<string, string>();
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--help' || arg === '-h') return 'help';
    if (arg === '--json') {
      json = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    // The name only, and no positional: in `--tokn=<secret>` or a stray word, the text may be a secret put in the wrong place.
    if (!flag.startsWith('-')) throw new UsageError('unexpected argument: loadtest takes only --flags (did a value need quoting?)');
    if (!VALUE_FLAGS.has(flag)) throw new UsageError(`unknown option ${JSON.stringify(flag.slice(0, 40))}`);
    const value = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (value === undefined) throw new UsageError(`${flag} needs a value`);
    values.set(flag, value);
  }
  const rawUrl = values.get('--url');
  if (rawUrl === undefined) throw new UsageError('--url is required');
  const url = loopbackUrl(rawUrl);
  const path = values.get('--path');
  if (path !== undefined) {
    if (!path.startsWith('/')) throw new UsageError('--path must start with /');
    const p = new URL(path, url);
    url.pathname = p.pathname;
    url.search = p.search;
  } else if (url.pathname === '/') url.pathname = '/v1/secrets';

  return {
    url,
    token: values.get('--token'),
    tokenFile: values.get('--token-file'),
    connections: int(values, '--connections', 32, 1, 1000),
    durationSeconds: num(values, '--duration', 10, 0.1, 3600),
    warmupSeconds: num(values, '--warmup', 1, 0, 600),
    rate: values.has('--rate') ? num(values, '--rate', 0, 0.1, 1_000_000) : undefined,
    timeoutMs: int(values, '--timeout-ms', 10_000, 1, 600_000),
    maxP99Ms: values.has('--max-p99-ms') ? num(values, '--max-p99-ms', 0, 0.001, 3_600_000) : undefined,
    maxErrors: int(values, '--max-errors', 0, 0, Number.MAX_SAFE_INTEGER),
    json,
  };
}

/** A number flag in [min, max], or `fallback` when absent. */
function num(values: Map<string, string>, flag: string, fallback: number, min: number, max: number): number {
  const n = numberFlag(values, flag, min, max);
  if (n === undefined) return fallback;
  if (Number.isNaN(n)) throw new UsageError(`${flag} must be a number from ${min} to ${max}`);
  return n;
}

/** A whole-number flag in [min, max], or `fallback` when absent. */
function int(values: Map<string, string>, flag: string, fallback: number, min: number, max: number): number {
  const n = numberFlag(values, flag, min, max);
  if (n === undefined) return fallback;
  if (!Number.isInteger(n)) throw new UsageError(`${flag} must be an integer from ${min} to ${max}`);
  return n;
}

/** The flag's value, undefined when absent, NaN when it is not a finite number in [min, max]. */
function numberFlag(values: Map<string, string>, flag: string, min: number, max: number): number | undefined {
  const raw = values.get(flag);
  if (raw === undefined) return undefined;
  const n = Number(raw);
  return raw.trim() === '' || !Number.isFinite(n) || n < min || n > max ? Number.NaN : n;
}

/**
 * Only loopback targets: 127.0.0.0/8, localhost, [::1]. The agent binds 127.0.0.1 and refuses
 * other Host headers, so a remote URL could only reach something that is not the agent.
 */
export function loopbackUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError('--url is not a valid URL');
  }
  if (url.protocol !== 'http:') throw new UsageError('--url must be http:// (the agent serves plain HTTP on loopback)');
  if (url.username !== '' || url.password !== '') throw new UsageError('--url must not carry credentials; use --token or --token-file');
  const host = url.hostname.toLowerCase();
  const loopback = host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
  if (!loopback) throw new UsageError(`--url host ${JSON.stringify(host.slice(0, 60))} is not a loopback address (127.0.0.0/8, localhost, [::1])`);
  return url;
}
