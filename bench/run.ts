/**
 * `npm run bench`: the benchmark suite (bench/README.md). scripts/bench.mjs builds dist/ if needed and runs
 * this file. Makes its own keys and artifacts (age, and KMS envelopes through a local KMS server),
 * measures the agent in cached and JIT mode against the HTTP and decryption limits of this
 * machine, and writes a table (stdout), a JSON file, a markdown report and an SVG chart to
 * bench/results/. `--soak <minutes>` runs soak mode instead, `--pool-sizing` the worker-count comparison,
 * `--notify` the change-notification costs (304s, idle long polls).
 * Exit: 0 when the run completed (targets are reported, not enforced), 1 on a failed run or a
 * failed soak, 2 on a usage error.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { formatTable } from '../tools/loadtest/table.js';
import { renderChart } from './lib/chart.js';
import { KINDS, makeFixtures } from './lib/fixtures.js';
import { describeMachine, foreignCpu, isBusy, machineLine, pinSelf, planPinning, type Machine } from './lib/machine.js';
import { BENCH_USAGE, parseBenchArgs, profileLine, type BenchOptions } from './lib/options.js';
import { ROOT } from './lib/proc.js';
import { checkTargets, computeRatios, footprintSection, footprintTargets, renderMarkdown, targetLines, type BenchResults } from './lib/report.js';
import { runFootprint, type FootprintResult } from './lib/footprint.js';
import { OVERHEAD_AGENTS, runMetricsOverhead } from './lib/metrics-overhead.js';
import { NOTIFY_MEASUREMENTS, runNotify } from './lib/notify.js';
import { runPoolSizing, workerCounts } from './lib/pool-sizing.js';
import { runSoak } from './lib/soak.js';
import { SIZES, measurementCount, runSuite } from './lib/suite.js';

/** Above this share of the machine used by other processes, the report flags the run. */
const FOREIGN_WARN = 0.03;

const log = (line: string): void => void process.stderr.write(`[bench] ${line}\n`);

async function main(argv: readonly string[]): Promise<number> {
  let opts: BenchOptions | 'help';
  try {
    opts = parseBenchArgs(argv);
  } catch (err) {
    process.stderr.write(`bench: ${(err as Error).message}\n\n${BENCH_USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    process.stdout.write(BENCH_USAGE);
    return 0;
  }
  const machine = await describeMachine();
  const pinning = planPinning(machine.cores, opts.pin);
  pinSelf(pinning);
  const outDir = resolve(opts.out ?? join(ROOT, 'bench', 'results'));
  await mkdir(outDir, { recursive: true });
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  log(
    `machine: ${machineLine(machine)}; load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  log(pinning.note);
  if (isBusy(machine)) log(`warning: ${Math.round((machine.busyAtStart ?? 0) * 100)} % of the CPUs were busy before the run; numbers will be noisy`);

  // Soak and pool-sizing modes run age agents only: no KMS server.
  const fx = await makeFixtures(SIZES, {
    kinds: opts.soak || opts.poolSizing || opts.metricsOverhead || opts.notify ? ['age'] : KINDS,
    kmsCpus: pinning.loadCpus,
  });
  // Bounded: a stuck run ends by itself (children are killed on exit).
  const p = opts.profile;
  const measurements = opts.poolSizing
    ? SIZES.length * workerCounts(machine.cores).length
    : opts.metricsOverhead
      ? SIZES.length * OVERHEAD_AGENTS
      : opts.notify
        ? NOTIFY_MEASUREMENTS
        : measurementCount();
  const budgetSeconds = opts.soak ? opts.soak.minutes * 60 + 120 : measurements * (p.warmupSeconds + p.reps * p.seconds) * 2 + 180;
  const watchdog = setTimeout(() => {
    log(`run exceeded its ${budgetSeconds} s budget; stopping`);
    process.exit(1);
  }, budgetSeconds * 1000);
  watchdog.unref();
  try {
    if (opts.soak) return await runSoak({ ...opts.soak, connections: p.connections }, { machine, pinning, fx, outDir, stamp, log });
    if (opts.poolSizing) return await runPoolSizing(p, { machine, pinning, fx, outDir, stamp, log });
    if (opts.metricsOverhead) return await runMetricsOverhead(p, { machine, pinning, fx, outDir, stamp, log });
    if (opts.notify) return await runNotify(p, { machine, pinning, fx, outDir, stamp, log });
    // First, on a quiet machine: start-up and idle memory beside a bare node.
    const footprint = await runFootprint(pinning, fx, p.name === 'full' ? 9 : 5, log);
    if (opts.footprintOnly) return await writeFootprintOnly(footprint, machine, outDir, stamp);
    log(profileLine(p));
    const others = foreignCpu(machine.cores);
    const suite = await runSuite(p, pinning, fx, log);
    // The KMS server is the bench's child: once it has exited its CPU counts as the bench's own.
    await fx.stopServers();
    const foreignCpuShare = others.done();
    const ratios = computeRatios(suite);
    const results: BenchResults = {
      tool: 'clef-agent bench',
      startedAt: startedAt.toISOString(),
      wallSeconds: (Date.now() - startedAt.getTime()) / 1000,
      machine,
      profile: p,
      pinning,
      suite,
      ratios,
      targets: [...checkTargets(ratios), ...footprintTargets(footprint, suite.scenarios)],
      foreignCpuShare,
      footprint,
    };
    await writeOutputs(results, outDir, stamp, opts.baseline);
    return 0;
  } finally {
    clearTimeout(watchdog);
    await fx.remove();
  }
}

/** `--footprint`: start-up and idle RSS only (peak RSS under load needs the full suite). */
async function writeFootprintOnly(f: FootprintResult, machine: Machine, outDir: string, stamp: string): Promise<number> {
  const targets = footprintTargets(f, []);
  const md = [
    '# clef-agent footprint report',
    '',
    `- **Machine:** ${machineLine(machine)}, commit ${machine.commit}`,
    '',
    ...footprintSection(f),
    targetLines(targets),
  ].join('\n');
  await writeFile(join(outDir, `footprint-${stamp}.md`), md);
  await writeFile(
    join(outDir, `footprint-${stamp}.json`),
    JSON.stringify({ tool: 'clef-agent bench --footprint', machine, footprint: f, targets }, null, 2) + '\n',
  );
  process.stdout.write(`\n${footprintSection(f).join('\n')}\n${targetLines(targets)}\nreport: ${join(outDir, `footprint-${stamp}.md`)}\n`);
  return 0;
}

async function writeOutputs(r: BenchResults, outDir: string, stamp: string, baseline: boolean): Promise<void> {
  const chart = renderChart(
    r.suite.scenarios,
    'clef-agent: requests/s and p99 per scenario',
    `${machineLine(r.machine)}; ${r.profile.name} profile; ${r.startedAt}`,
  );
  const files = { json: `results-${stamp}.json`, md: `report-${stamp}.md`, svg: `chart-${stamp}.svg` };
  await writeFile(join(outDir, files.json), JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  await writeFile(join(outDir, files.svg), chart);
  await writeFile(join(outDir, files.md), renderMarkdown(r, files.svg));
  for (const ext of ['json', 'md', 'svg'] as const) await copyFile(join(outDir, files[ext]), join(outDir, `latest.${ext}`));
  const latestMd = await readFile(join(outDir, files.md), 'utf8');
  await writeFile(join(outDir, 'latest.md'), latestMd.replace(`](${files.svg})`, '](latest.svg)'));
  if (baseline) {
    await writeFile(join(ROOT, 'bench', 'baseline.svg'), chart);
    await writeFile(join(ROOT, 'bench', 'results', 'baseline.md'), latestMd.replace(`](${files.svg})`, '](../baseline.svg)'));
  }
  process.stdout.write(`\nclef-agent bench — ${machineLine(r.machine)}\n${profileLine(r.profile)}\n${r.pinning.note}; pool ${r.suite.workers} worker(s)\n\n`);
  process.stdout.write(formatTable(r.suite.scenarios.map((s) => s.row)));
  process.stdout.write(`\n${targetLines(r.targets)}`);
  if (r.foreignCpuShare !== null)
    process.stdout.write(
      `\nother processes used ${(r.foreignCpuShare * 100).toFixed(1)} % of the machine's CPU during the run${r.foreignCpuShare > FOREIGN_WARN ? ' (numbers disturbed: rerun on a quiet machine)' : ''}\n`,
    );
  for (const n of r.suite.notes) process.stdout.write(`note: ${n}\n`);
  process.stdout.write(`\nreport: ${join(outDir, files.md)}\njson:   ${join(outDir, files.json)}\nchart:  ${join(outDir, files.svg)}\n`);
  if (baseline) process.stdout.write(`baseline refreshed: bench/results/baseline.md, bench/baseline.svg\n`);
  process.stdout.write(`wall time: ${r.wallSeconds.toFixed(0)} s\n`);
}

// Ctrl-C: exit through process.exit so the exit hooks kill children and remove the temp keys.
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench: failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
