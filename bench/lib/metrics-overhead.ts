/**
 * Metrics-overhead mode (`npm run bench -- --metrics-overhead`): what counting costs (SPEC §8,
 * target ≥ 0.95). Per size, a cached and a JIT agent without the operations listener and the same
 * two with `CLEF_AGENT_OPS_ADDR` (metrics counted on every request, `/metrics` scraped by nobody),
 * under the same closed-loop load on `/v1/secrets`, measured in interleaved rounds so the machine's
 * drift hits both sides alike. Reports req/s with metrics on ÷ off per mode.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatTable, markdownTable, type TableRow } from '../../tools/loadtest/table.js';
import { startBenchAgent, type BenchAgent } from './agent.js';
import { machineLine, type RunContext } from './machine.js';
import { HealthProbe, Loadgen, interleavedSecretsRounds } from './measure.js';
import { profileLine, type Profile } from './options.js';
import { SIZES, repsRow } from './suite.js';

export interface OverheadRatio {
  readonly keys: number;
  readonly mode: 'cached' | 'jit';
  /** req/s with metrics on ÷ off (medians). */
  readonly ratio: number;
}

export const OVERHEAD_TARGET = 0.95;

const VARIANTS = [
  { mode: 'cached', metrics: false },
  { mode: 'cached', metrics: true },
  { mode: 'jit', metrics: false },
  { mode: 'jit', metrics: true },
] as const;

/** Agents measured per size (for the run's time budget). */
export const OVERHEAD_AGENTS = VARIANTS.length;

export async function runMetricsOverhead(profile: Profile, ctx: RunContext): Promise<number> {
  const { machine, pinning, fx, outDir, stamp, log } = ctx;
  const loadgen = new Loadgen(pinning.loadCpus);
  const health = new HealthProbe(pinning.loadCpus, pinning.probeNice);
  const rows: TableRow[] = [];
  const ratios: OverheadRatio[] = [];
  log(`metrics overhead: cached and JIT agents with and without CLEF_AGENT_OPS_ADDR; ${profileLine(profile)}`);
  try {
    for (const keys of SIZES) {
      const f = fx.get('age', keys);
      const agents: BenchAgent[] = [];
      try {
        for (const v of VARIANTS) {
          const env = { ...f.env, CLEF_AGENT_CACHE_TTL: v.mode === 'jit' ? '0' : '300', ...(v.metrics ? { CLEF_AGENT_OPS_ADDR: '127.0.0.1:0' } : {}) };
          agents.push(await startBenchAgent(env, pinning.agentCpus));
        }
        const reps = await interleavedSecretsRounds(agents, { loadgen, health, profile, token: fx.token, label: `${keys} keys`, log });
        const sized = VARIANTS.map((v, j) => repsRow(`${v.mode} age ${keys} keys, metrics ${v.metrics ? 'on' : 'off'}`, reps[j] ?? []));
        rows.push(...sized);
        for (const mode of ['cached', 'jit'] as const) {
          const off = sized[VARIANTS.findIndex((v) => v.mode === mode && !v.metrics)]?.rps ?? 0;
          const on = sized[VARIANTS.findIndex((v) => v.mode === mode && v.metrics)]?.rps ?? 0;
          ratios.push({ keys, mode, ratio: off > 0 ? on / off : 0 });
        }
      } finally {
        await Promise.all(agents.map((a) => a.stop()));
      }
    }
  } finally {
    await Promise.all([loadgen.close(), health.close()]);
  }
  const lines = ratios.map((r) => `${r.mode} ${r.keys} keys: metrics on ÷ off = ${r.ratio.toFixed(3)} (target ≥ ${OVERHEAD_TARGET})`);
  const md = [
    '# clef-agent metrics-overhead report',
    '',
    `- **Machine:** ${machineLine(machine)}, commit ${machine.commit}`,
    `- **What was run:** age agents differing only in \`CLEF_AGENT_OPS_ADDR\` (metrics on/off); ${profileLine(profile)}; interleaved rounds, medians.`,
    '',
    markdownTable(rows),
    ...lines.map((l) => `- ${l}`),
    '',
  ].join('\n');
  await writeFile(join(outDir, `metrics-overhead-${stamp}.md`), md);
  await writeFile(
    join(outDir, `metrics-overhead-${stamp}.json`),
    JSON.stringify({ tool: 'clef-agent bench --metrics-overhead', machine, profile, rows, ratios }, null, 2) + '\n',
  );
  process.stdout.write(`\n${formatTable(rows)}\n${lines.join('\n')}\nreport: ${join(outDir, `metrics-overhead-${stamp}.md`)}\n`);
  return 0;
}
