/**
 * Pool-sizing mode (`npm run bench -- --pool-sizing`): the evidence behind the default worker count
 * (CPUs − 1, src/config). JIT agents with 1 … N workers (N = the core count, at least 2), each
 * allowed every CPU of the machine — the deployment case, where the agent's cgroup has them all —
 * under the same closed-loop load, measured in interleaved rounds, at 10 and 1000 keys. The load
 * generator and the health probe stay on their CPU (with 2 cores, one of the agent's): a sidecar
 * shares the machine with the application that calls it. Per size: req/s, `/v1/health` p99,
 * event-loop p99 and how much of the time the HTTP thread waited for a CPU.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatTable, markdownTable, type TableRow } from '../../tools/loadtest/table.js';
import { startBenchAgent, type BenchAgent } from './agent.js';
import { machineLine, type Machine, type Pinning, type RunContext } from './machine.js';
import { HealthProbe, Loadgen, interleavedSecretsRounds, type Rep } from './measure.js';
import { profileLine, type Profile } from './options.js';
import { SIZES, repsRow, threadUse, type ThreadUse } from './suite.js';

export interface PoolSizingRow {
  readonly keys: number;
  readonly workers: number;
  readonly row: TableRow;
  readonly threads?: ThreadUse | undefined;
}

/** Worker counts compared: 1 up to the core count, and at least 1 and 2. */
export function workerCounts(cores: number): number[] {
  return Array.from({ length: Math.max(2, Math.min(cores, 8)) }, (_, i) => i + 1);
}

export async function runPoolSizing(profile: Profile, ctx: RunContext): Promise<number> {
  const { machine, pinning, fx, outDir, stamp, log } = ctx;
  // Unpinned runs (--no-pin, no taskset, one core) leave every process free anyway.
  const allCpus = pinning.agentCpus === undefined ? undefined : `0-${machine.cores - 1}`;
  const counts = workerCounts(machine.cores);
  const loadgen = new Loadgen(pinning.loadCpus);
  const health = new HealthProbe(pinning.loadCpus, pinning.probeNice);
  const rows: PoolSizingRow[] = [];
  log(`pool sizing: JIT agents with ${counts.join(', ')} worker(s), each on CPUs ${allCpus ?? 'all'}; ${profileLine(profile)}`);
  try {
    for (const keys of SIZES) {
      const f = fx.get('age', keys);
      const agents: BenchAgent[] = [];
      try {
        for (const n of counts) agents.push(await startBenchAgent({ ...f.env, CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_WORKERS: String(n) }, allCpus));
        const reps = await interleavedSecretsRounds(agents, { loadgen, health, profile, token: fx.token, label: `${keys} keys`, log });
        for (const [j, n] of counts.entries()) rows.push(summarise(keys, n, reps[j] ?? []));
      } finally {
        await Promise.all(agents.map((a) => a.stop()));
      }
    }
  } finally {
    await Promise.all([loadgen.close(), health.close()]);
  }
  const md = renderPoolSizing(rows, machine, pinning, profile, allCpus);
  await writeFile(join(outDir, `pool-sizing-${stamp}.md`), md);
  await writeFile(
    join(outDir, `pool-sizing-${stamp}.json`),
    JSON.stringify({ tool: 'clef-agent bench --pool-sizing', machine, profile, rows }, null, 2) + '\n',
  );
  process.stdout.write(`\n${formatTable(rows.map((r) => r.row))}\nreport: ${join(outDir, `pool-sizing-${stamp}.md`)}\n`);
  return 0;
}

function summarise(keys: number, workers: number, reps: readonly Rep[]): PoolSizingRow {
  return { keys, workers, row: repsRow(`JIT age ${keys} keys, ${workers} worker${workers === 1 ? '' : 's'}`, reps), threads: threadUse(reps) };
}

export function renderPoolSizing(rows: readonly PoolSizingRow[], machine: Machine, pinning: Pinning, profile: Profile, allCpus: string | undefined): string {
  const pct = (x: number | undefined): string => (x === undefined ? '-' : `${(x * 100).toFixed(0)} %`);
  return [
    '# clef-agent pool-sizing report',
    '',
    `- **Machine:** ${machineLine(machine)}, commit ${machine.commit}`,
    `- **What was run:** JIT agents (age artifact) differing only in \`CLEF_AGENT_WORKERS\`, each allowed CPUs ${allCpus ?? 'all'}; ${profileLine(profile)}; interleaved rounds, medians.`,
    `- **Load side:** autocannon and the health probe on CPU ${pinning.loadCpus ?? 'any'}${machine.cores <= 2 ? ' — on this machine one of the agent’s CPUs, as an application sharing a small node would be' : ''}.`,
    '',
    markdownTable(rows.map((r) => r.row)),
    '| scenario | HTTP thread CPU µs per request | other threads CPU µs per request | HTTP thread waiting for a CPU |',
    '|---|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.row.label} | ${r.threads?.mainCpuUsPerRequest.toFixed(1) ?? '-'} | ${r.threads?.otherCpuUsPerRequest.toFixed(1) ?? '-'} | ${pct(r.threads?.mainWaitShare)} |`,
    ),
    '',
    'The default pool size is the CPUs available to the agent minus one (at least 1). A size is worth its memory when it adds throughput without making the HTTP thread wait for a CPU: compare req/s with the health p99 and the waiting column.',
    '',
  ].join('\n');
}
