/**
 * Soak mode (`npm run bench -- --soak <minutes>`): one agent (10-key age artifact, JIT by default)
 * under steady load for the whole time; every 5 s the probe reports RSS, heap and the event-loop
 * delay of the last 5 s. Fails when RSS grows by more than 1 MiB/min after the first minute
 * (least-squares slope over the samples taken after minute 1).
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fixed, formatTable } from '../../tools/loadtest/table.js';
import { startBenchAgent } from './agent.js';
import { machineLine, type RunContext } from './machine.js';
import { Loadgen, median } from './measure.js';

export interface SoakSample {
  readonly tSeconds: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
}

const SAMPLE_SECONDS = 5;
const MAX_SLOPE_MIB_PER_MIN = 1;

/** Least-squares slope of RSS over time, MiB per minute, using samples after the first minute. */
export function rssSlope(samples: readonly SoakSample[]): number | undefined {
  const s = samples.filter((x) => x.tSeconds > 60);
  if (s.length < 3) return undefined;
  const mx = s.reduce((a, x) => a + x.tSeconds / 60, 0) / s.length;
  const my = s.reduce((a, x) => a + x.rssMiB, 0) / s.length;
  const num = s.reduce((a, x) => a + (x.tSeconds / 60 - mx) * (x.rssMiB - my), 0);
  const den = s.reduce((a, x) => a + (x.tSeconds / 60 - mx) ** 2, 0);
  return den === 0 ? undefined : num / den;
}

export interface SoakOptions {
  readonly minutes: number;
  readonly mode: 'jit' | 'cached';
  readonly rate?: number | undefined;
  readonly connections: number;
}

export async function runSoak(o: SoakOptions, ctx: RunContext): Promise<number> {
  const { machine, pinning, fx, outDir, stamp, log } = ctx;
  const f = fx.get('age', 10);
  const agent = await startBenchAgent({ ...f.env, CLEF_AGENT_CACHE_TTL: o.mode === 'jit' ? '0' : '300' }, pinning.agentCpus);
  const loadgen = new Loadgen(pinning.loadCpus);
  const samples: SoakSample[] = [];
  const seconds = Math.round(o.minutes * 60);
  log(
    `soak: ${o.mode} mode, 10 keys, ${o.connections} connections, ${o.rate === undefined ? 'closed loop' : `${o.rate} req/s`}, ${o.minutes} min; sample every ${SAMPLE_SECONDS} s`,
  );
  try {
    agent.resetProbe();
    const start = performance.now();
    let finished = false;
    const load = loadgen
      .run({
        url: `http://127.0.0.1:${agent.port}/v1/secrets`,
        headers: { authorization: `Bearer ${fx.token}` },
        connections: o.connections,
        seconds,
        rate: o.rate,
      })
      .finally(() => (finished = true));
    while (!finished) {
      await Promise.race([sleep(SAMPLE_SECONDS * 1000), load.catch(() => undefined)]);
      if (finished) break;
      const p = await agent.readProbe();
      agent.resetProbe();
      const sample = {
        tSeconds: (performance.now() - start) / 1000,
        rssMiB: p.rssMiB,
        heapUsedMiB: p.heapUsedMiB,
        loopP99Ms: p.loopP99Ms,
        loopMaxMs: p.loopMaxMs,
      };
      samples.push(sample);
      if (samples.length % 12 === 0) log(`  t=${sample.tSeconds.toFixed(0)}s rss ${sample.rssMiB.toFixed(1)} MiB, loop p99 ${sample.loopP99Ms.toFixed(2)} ms`);
    }
    const summary = await load;
    const slope = rssSlope(samples);
    const pass = slope === undefined ? null : slope <= MAX_SLOPE_MIB_PER_MIN;
    const verdict =
      pass === null
        ? 'NOT JUDGED (needs at least 3 samples after the first minute: run 2 minutes or more)'
        : `${pass ? 'PASS' : 'FAIL'}: RSS slope after the first minute ${slope?.toFixed(3)} MiB/min (limit ${MAX_SLOPE_MIB_PER_MIN})`;
    const table = formatTable([
      {
        label: `soak ${o.mode} 10 keys`,
        ...summary,
        eventLoopP99Ms: median(samples.map((s) => s.loopP99Ms)),
        peakRssMiB: Math.max(...samples.map((s) => s.rssMiB)),
      },
    ]);
    const md = [
      '# clef-agent soak report',
      '',
      `- **Machine:** ${machineLine(machine)}; ${pinning.note}`,
      `- **Run:** ${stamp}, commit ${machine.commit}; ${o.mode} mode, 10-key age artifact, ${o.connections} connections, ${o.rate === undefined ? 'closed loop' : `${o.rate} req/s`}, ${o.minutes} min`,
      `- **Verdict:** ${verdict}`,
      '',
      '```',
      table.trimEnd(),
      '```',
      '',
      '| t (s) | RSS MiB | heap MiB | loop p99 ms | loop max ms |',
      '|---:|---:|---:|---:|---:|',
      ...samples.map(
        (s) => `| ${s.tSeconds.toFixed(0)} | ${s.rssMiB.toFixed(1)} | ${s.heapUsedMiB.toFixed(1)} | ${fixed(s.loopP99Ms, 2)} | ${fixed(s.loopMaxMs, 2)} |`,
      ),
      '',
    ].join('\n');
    await writeFile(
      join(outDir, `soak-${stamp}.json`),
      JSON.stringify({ tool: 'clef-agent bench --soak', machine, pinning, options: o, summary, samples, rssSlopeMiBPerMin: slope ?? null, pass }, null, 2) +
        '\n',
    );
    await writeFile(join(outDir, `soak-${stamp}.md`), md);
    process.stdout.write(`\n${table}\n${verdict}\nreport: ${join(outDir, `soak-${stamp}.md`)}\n`);
    return pass === false ? 1 : 0;
  } finally {
    await loadgen.close();
    await agent.stop();
  }
}
