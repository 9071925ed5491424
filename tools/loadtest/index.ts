/**
 * `clef-agent loadtest`: drive a running agent, print the bench table, and exit non-zero when a
 * threshold is breached, so users can gate a roll-out in CI. Exit codes: 0 within thresholds,
 * 1 breached (or nothing answered), 2 usage error.
 */
import { readFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { LOADTEST_USAGE, UsageError, parseLoadtestArgs, type LoadtestArgs } from './args.js';
import { runLoad, type LoadRun } from './engine.js';
import { formatTable } from './table.js';

export interface LoadtestIO {
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly env: Readonly<Record<string, string | undefined>>;
}

export interface Verdict {
  readonly ok: boolean;
  readonly failures: readonly string[];
}

/** Threshold check, separate from the run so it is testable without load. */
export function judge(
  run: Pick<LoadRun, 'requests' | 'errors' | 'non2xx' | 'p99Ms'>,
  limits: { readonly maxErrors: number; readonly maxP99Ms?: number | undefined },
): Verdict {
  const failures: string[] = [];
  if (run.requests === 0) failures.push('no response was received');
  const bad = run.errors + run.non2xx;
  if (bad > limits.maxErrors) failures.push(`errors + non-2xx = ${bad} > --max-errors ${limits.maxErrors}`);
  if (limits.maxP99Ms !== undefined && !(run.p99Ms <= limits.maxP99Ms)) failures.push(`p99 ${run.p99Ms.toFixed(2)} ms > --max-p99-ms ${limits.maxP99Ms}`);
  return { ok: failures.length === 0, failures };
}

async function resolveToken(args: LoadtestArgs, env: LoadtestIO['env']): Promise<string | undefined> {
  if (args.token !== undefined) return args.token;
  if (args.tokenFile !== undefined) {
    try {
      return (await readFile(args.tokenFile, 'utf8')).trim();
    } catch (err) {
      throw new UsageError(`cannot read --token-file: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
  }
  const fromEnv = env['CLEF_AGENT_TOKEN'];
  return fromEnv === undefined || fromEnv === '' ? undefined : fromEnv;
}

export async function runLoadtest(argv: readonly string[], io: LoadtestIO): Promise<number> {
  let args: LoadtestArgs;
  let token: string | undefined;
  try {
    const parsed = parseLoadtestArgs(argv);
    if (parsed === 'help') {
      io.stdout.write(LOADTEST_USAGE);
      return 0;
    }
    args = parsed;
    token = await resolveToken(args, io.env);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`clef-agent loadtest: ${err.message}\n\n${LOADTEST_USAGE}`);
      return 2;
    }
    throw err;
  }

  const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
  const abort = new AbortController();
  const onSignal = (): void => abort.abort();
  process.once('SIGINT', onSignal);
  const base = { url: args.url, headers, connections: args.connections, rate: args.rate, timeoutMs: args.timeoutMs, signal: abort.signal };
  const target = `${args.url.origin}${args.url.pathname}`;
  const pace = args.rate === undefined ? 'closed loop' : `${args.rate} req/s`;
  io.stdout.write(`loadtest ${target}: ${args.connections} connections, ${pace}, ${args.warmupSeconds}s warm-up + ${args.durationSeconds}s measured\n`);
  io.stdout.write(`machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores, Node ${process.version} (load generator side)\n\n`);
  let run: LoadRun;
  try {
    if (args.warmupSeconds > 0) await runLoad({ ...base, durationSeconds: args.warmupSeconds });
    run = await runLoad({ ...base, durationSeconds: args.durationSeconds });
  } finally {
    process.off('SIGINT', onSignal);
  }

  io.stdout.write(formatTable([{ label: `GET ${args.url.pathname}`, ...run }]));
  const statuses = Object.entries(run.statuses)
    .map(([s, n]) => `${s}×${n}`)
    .join(', ');
  io.stdout.write(
    `\n${run.requests} responses in ${run.durationSeconds.toFixed(1)}s (${statuses || 'none'}); ${run.errors} errors (${run.timeouts} timeouts)\n`,
  );
  const verdict = judge(run, args);
  io.stdout.write(verdict.ok ? 'PASS: within thresholds\n' : `FAIL: ${verdict.failures.join('; ')}\n`);
  if (args.json) {
    const thresholds = { maxErrors: args.maxErrors, maxP99Ms: args.maxP99Ms ?? null };
    io.stdout.write(
      `RESULT ${JSON.stringify({ tool: 'clef-agent loadtest', target, connections: args.connections, rate: args.rate ?? null, thresholds, ...run, pass: verdict.ok })}\n`,
    );
  }
  return verdict.ok ? 0 : 1;
}
