/**
 * Change-notification mode (`npm run bench -- --notify`, SPEC §10.2). Two questions:
 *
 * 1. Does a JIT 304 cost what a cached one does? A cached and a JIT agent (10 keys, age) take the
 *    same closed-loop load of `GET /v1/secrets` with the current `If-None-Match`, in interleaved
 *    rounds; target JIT ÷ cached ≥ 0.9. Both run the operations listener, so the JIT agent's
 *    serve-task counter (`clef_agent_pool_task_duration_seconds_count`) is read before and after
 *    its 304 load: it must not move (a 304 costs no worker task).
 * 2. What do idle long polls cost? The cached agent's RSS with and without 1000 parked
 *    `?wait=300` requests (target < 10 MiB more), and its `/v1/secrets` req/s with and without them,
 *    alternating in rounds (target: within 5 %).
 */
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import { join } from 'node:path';
import { formatTable, markdownTable, type TableRow } from '../../tools/loadtest/table.js';
import { startBenchAgent, type BenchAgent } from './agent.js';
import { machineLine, type Machine, type RunContext } from './machine.js';
import { HealthProbe, Loadgen, httpRep, median, type Rep, type Target } from './measure.js';
import { profileLine, type Profile } from './options.js';
import { get } from './proc.js';
import { repsRow } from './suite.js';

export const NOTIFY_KEYS = 10;
export const IDLE_WAITERS = 1000;
/** Measurements per run, for the run's time budget: two 304 agents, and 200s with and without waiters. */
export const NOTIFY_MEASUREMENTS = 4;
export const TARGETS = { jit304OverCached304: 0.9, waitersRssMiB: 10, waitersRpsChange: 0.05 } as const;

export interface NotifyResult {
  readonly rows: readonly TableRow[];
  /** JIT 304 req/s ÷ cached 304 req/s (medians). */
  readonly jit304OverCached304: number;
  /** Worker tasks the JIT agent ran during its 304 load (should be 0). */
  readonly jit304WorkerTasks: number;
  /** RSS with the idle waiters minus without, MiB (median over rounds). */
  readonly waitersRssMiB: number;
  /** Cached `/v1/secrets` req/s with the idle waiters ÷ without (medians). */
  readonly waitersRpsRatio: number;
  readonly waiters: number;
}

export async function runNotify(profile: Profile, ctx: RunContext): Promise<number> {
  const { machine, pinning, fx, outDir, stamp, log } = ctx;
  const f = fx.get('age', NOTIFY_KEYS);
  const loadgen = new Loadgen(pinning.loadCpus);
  const health = new HealthProbe(pinning.loadCpus, pinning.probeNice);
  const auth = `Bearer ${fx.token}`;
  log(`notify: cached and JIT agents (${NOTIFY_KEYS} keys), 304 load, then ${IDLE_WAITERS} idle long polls; ${profileLine(profile)}`);
  const agents: BenchAgent[] = [];
  let result: NotifyResult;
  try {
    // Room for the parked polls beside the load's connections and the health probe.
    const env = { ...f.env, CLEF_AGENT_OPS_ADDR: '127.0.0.1:0', CLEF_AGENT_MAX_CONNECTIONS: '4096', CLEF_AGENT_MAX_WAITERS: '2048' };
    const cached = await startBenchAgent({ ...env, CLEF_AGENT_CACHE_TTL: '300' }, pinning.agentCpus);
    agents.push(cached);
    const jit = await startBenchAgent({ ...env, CLEF_AGENT_CACHE_TTL: '0' }, pinning.agentCpus);
    agents.push(jit);
    const opsOfJit = opsPortOf(jit);

    // 1. 304s, interleaved.
    const target304 = async (a: BenchAgent): Promise<Target> => ({
      port: a.port,
      path: '/v1/secrets',
      headers: { authorization: auth, 'if-none-match': await etagOf(a.port, auth) },
    });
    const t304 = [await target304(cached), await target304(jit)];
    if (profile.warmupSeconds > 0)
      for (const [j, a] of agents.entries()) await httpRep(loadgen, t304[j] as Target, profile, profile.warmupSeconds, { agent: a, health });
    const reps304: Rep[][] = [[], []];
    const tasksBefore = await serveTasks(opsOfJit);
    for (let i = 1; i <= profile.reps; i++) {
      log(`  304 round ${i}/${profile.reps}`);
      const order = i % 2 === 0 ? [1, 0] : [0, 1];
      for (const j of order) reps304[j]?.push(await httpRep(loadgen, t304[j] as Target, profile, profile.seconds, { agent: agents[j] as BenchAgent, health }));
    }
    const jitTasks = (await serveTasks(opsOfJit)) - tasksBefore;

    // 2. Idle long polls on the cached agent: RSS and req/s with and without, alternating.
    const t200: Target = { port: cached.port, path: '/v1/secrets', headers: { authorization: auth } };
    const without: Rep[] = [];
    const withWaiters: Rep[] = [];
    const rssDeltas: number[] = [];
    for (let i = 1; i <= profile.reps; i++) {
      log(`  idle long-poll round ${i}/${profile.reps}`);
      const measureWithout = async (): Promise<void> => void without.push(await httpRep(loadgen, t200, profile, profile.seconds, { agent: cached, health }));
      const measureWith = async (): Promise<void> => {
        const before = await rssMiB(cached.pid);
        const parked = await parkWaiters(cached.port, auth, t304[0]?.headers['if-none-match'] ?? '', IDLE_WAITERS);
        try {
          rssDeltas.push((await rssMiB(cached.pid)) - before);
          withWaiters.push(await httpRep(loadgen, t200, profile, profile.seconds, { agent: cached, health }));
        } finally {
          await parked.release();
        }
      };
      if (i % 2 === 0) {
        await measureWith();
        await measureWithout();
      } else {
        await measureWithout();
        await measureWith();
      }
    }
    const rows = [
      repsRow(`cached age ${NOTIFY_KEYS} keys, 304`, reps304[0] ?? []),
      repsRow(`JIT age ${NOTIFY_KEYS} keys, 304`, reps304[1] ?? []),
      repsRow(`cached age ${NOTIFY_KEYS} keys, 200, no waiters`, without),
      repsRow(`cached age ${NOTIFY_KEYS} keys, 200, ${IDLE_WAITERS} idle waiters`, withWaiters),
    ];
    const rps = (r: TableRow | undefined): number => r?.rps ?? 0;
    result = {
      rows,
      jit304OverCached304: rps(rows[0]) > 0 ? rps(rows[1]) / rps(rows[0]) : 0,
      jit304WorkerTasks: jitTasks,
      waitersRssMiB: median(rssDeltas),
      waitersRpsRatio: rps(rows[2]) > 0 ? rps(rows[3]) / rps(rows[2]) : 0,
      waiters: IDLE_WAITERS,
    };
  } finally {
    await Promise.all([...agents.map((a) => a.stop()), loadgen.close(), health.close()]);
  }
  const md = renderNotify(result, machine, profile);
  await writeFile(join(outDir, `notify-${stamp}.md`), md);
  await writeFile(join(outDir, `notify-${stamp}.json`), JSON.stringify({ tool: 'clef-agent bench --notify', machine, profile, ...result }, null, 2) + '\n');
  process.stdout.write(`\n${formatTable(result.rows)}\n${notifyLines(result).join('\n')}\nreport: ${join(outDir, `notify-${stamp}.md`)}\n`);
  return 0;
}

/** The verdict lines: each figure beside its target, PASS or MISS. */
export function notifyLines(r: NotifyResult): string[] {
  const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');
  const change = Math.abs(1 - r.waitersRpsRatio);
  return [
    `${verdict(r.jit304OverCached304 >= TARGETS.jit304OverCached304)} JIT 304 ÷ cached 304 req/s = ${r.jit304OverCached304.toFixed(3)} (target ≥ ${TARGETS.jit304OverCached304})`,
    `${verdict(r.jit304WorkerTasks === 0)} worker tasks during the JIT 304 load: ${r.jit304WorkerTasks} (target 0)`,
    `${verdict(r.waitersRssMiB < TARGETS.waitersRssMiB)} RSS with ${r.waiters} idle long polls: ${r.waitersRssMiB >= 0 ? '+' : ''}${r.waitersRssMiB.toFixed(1)} MiB (target < ${TARGETS.waitersRssMiB} MiB)`,
    `${verdict(change <= TARGETS.waitersRpsChange)} cached req/s with ${r.waiters} idle long polls ÷ without = ${r.waitersRpsRatio.toFixed(3)} (target within ${TARGETS.waitersRpsChange * 100} %)`,
  ];
}

export function renderNotify(r: NotifyResult, machine: Machine, profile: Profile): string {
  return [
    '# clef-agent change-notification report',
    '',
    `- **Machine:** ${machineLine(machine)}, commit ${machine.commit}`,
    `- **What was run:** a cached and a JIT agent (age, ${NOTIFY_KEYS} keys, operations listener on), \`GET /v1/secrets\` with the current \`If-None-Match\` (every answer 304, counted as non-2xx), interleaved rounds; then the cached agent's \`/v1/secrets\` (200) with and without ${r.waiters} parked \`?wait=300\` long polls, alternating. ${profileLine(profile)}; medians.`,
    '',
    markdownTable(r.rows),
    ...notifyLines(r).map((l) => `- ${l}`),
    '',
  ].join('\n');
}

async function etagOf(port: number, auth: string): Promise<string> {
  const r = await get(port, '/v1/secrets', { authorization: auth });
  const tag = r.headers.etag;
  if (r.status !== 200 || tag === undefined) throw new Error(`GET /v1/secrets answered ${r.status} without an ETag`);
  return tag;
}

function opsPortOf(a: BenchAgent): number {
  const port = a.opsPort;
  if (port === undefined) throw new Error('the agent logged no ops.listening line');
  return port;
}

/** Serve tasks the agent ran so far (the pool's task-duration histogram count, both serve kinds). */
async function serveTasks(opsPort: number): Promise<number> {
  const r = await get(opsPort, '/metrics');
  let n = 0;
  for (const m of r.body.toString('utf8').matchAll(/^clef_agent_pool_task_duration_seconds_count\{[^}]*kind="(serve|serveBatch)"[^}]*\} (\S+)$/gm))
    n += Number(m[2]);
  return n;
}

async function rssMiB(pid: number): Promise<number> {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? Number.NaN) / 1024;
}

/**
 * `n` long polls with the current tag, parked in the agent (resolves once every one is sent and
 * none was answered: each would only be answered by a change or its 300 s deadline). `release`
 * disconnects them all.
 */
async function parkWaiters(port: number, auth: string, tag: string, n: number): Promise<{ release(): Promise<void> }> {
  const requests: http.ClientRequest[] = [];
  const connected: Promise<void>[] = [];
  let answered = 0;
  for (let i = 0; i < n; i++) {
    const req = http.request({ host: '127.0.0.1', port, path: '/v1/secrets?wait=300', agent: false, headers: { authorization: auth, 'if-none-match': tag } });
    req.on('response', (res) => {
      answered++;
      res.resume();
    });
    req.on('error', () => undefined);
    connected.push(new Promise((resolve) => req.once('socket', (s) => (s.connecting ? s.once('connect', () => resolve()) : resolve()))));
    req.end();
    requests.push(req);
  }
  // Every socket connected and its request written; then a moment for the agent to park them.
  await Promise.all(connected);
  await new Promise((r) => setTimeout(r, 500));
  if (answered > 0) throw new Error(`${answered} of ${n} long polls were answered at once (expected them parked)`);
  return {
    release: async () => {
      for (const r of requests) r.destroy();
      await new Promise((r) => setTimeout(r, 500));
    },
  };
}
