/**
 * The scenario matrix: for each encryption kind and payload size, the agent in cached mode and in
 * JIT mode and the decryption limit (same task, same pool size); per size, once, the HTTP limit
 * (same bytes: every kind of a size carries the same payload, so the bodies are identical). All of
 * a block are started first (idle processes on the agent's CPUs cost nothing: the agent probe's
 * timer is off between windows), warmed up, then measured in interleaved rounds.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { TableRow } from '../../tools/loadtest/table.js';
import { startBenchAgent, type BenchAgent } from './agent.js';
import { KINDS, type EncryptionKind, type Fixtures, type KindFixture } from './fixtures.js';
import type { KmsUse } from './kms.js';
import type { Pinning } from './machine.js';
import {
  DecryptLimit,
  HealthProbe,
  Loadgen,
  httpRep,
  median,
  runKeyLookup,
  runMicro,
  startHttpLimit,
  type KeyLookupRow,
  type MicroRow,
  type Rep,
} from './measure.js';
import type { Profile } from './options.js';
import { get } from './proc.js';

export const SIZES = [10, 1000] as const;
export type Mode = 'cached' | 'jit';
export type What = Mode | 'http-limit' | 'decrypt-limit';

export interface ScenarioResult {
  readonly id: string;
  readonly what: What;
  /** For the HTTP limit: the kind whose block measured it (the bytes are every kind's). */
  readonly kind: EncryptionKind;
  readonly keys: number;
  readonly row: TableRow;
  readonly reps: readonly Rep[];
  readonly readyMsSamples?: readonly number[] | undefined;
  /** Median CPU use of the autocannon process (1 = one core busy): near 1 means generator-bound. */
  readonly generatorCpu?: number | undefined;
  /** Median CPU use of the agent process, all threads (1 = one core busy). */
  readonly agentCpu?: number | undefined;
  /** Agent scenarios on Linux: where the agent's CPU time went, and how the HTTP thread fared. */
  readonly threads?: ThreadUse | undefined;
  /** KMS scenarios: median CPU use of the local KMS server process (1 = one core busy). */
  readonly kmsCpu?: number | undefined;
  /** KMS scenarios: KMS Decrypt calls ÷ answered requests, over all repetitions (JIT: 1 by design). */
  readonly kmsDecryptsPerRequest?: number | undefined;
  readonly bodyBytes: number;
}

/** Medians over repetitions, from the agent probe's scheduler accounting of the main thread. */
export interface ThreadUse {
  /** CPU time of the main (HTTP) thread per answered request. */
  readonly mainCpuUsPerRequest: number;
  /** CPU time of every other thread of the agent (pool workers, GC, libuv) per answered request. */
  readonly otherCpuUsPerRequest: number;
  /** Share of the window the main thread was runnable but waiting for a CPU another thread had. */
  readonly mainWaitShare: number;
  /** Times per second the kernel took the core away from the main thread. */
  readonly mainPreemptionsPerSecond: number;
}

export interface SuiteResult {
  readonly scenarios: readonly ScenarioResult[];
  readonly micro: readonly MicroRow[];
  /** JIT single-key lookup on large secret sets, before and after the scanner (absent in older results). */
  readonly keyLookup?: readonly KeyLookupRow[] | undefined;
  readonly workers: number;
  readonly notes: readonly string[];
}

const STARTS = 3;
const LABEL: Record<What, string> = { cached: 'cached', jit: 'JIT', 'http-limit': 'HTTP limit', 'decrypt-limit': 'decrypt limit' };

/** One round of a kind's block, in order. The HTTP limit runs once per size, in the first kind's block. */
export function roundOrder(kind: EncryptionKind): readonly What[] {
  return kind === KINDS[0] ? ['cached', 'http-limit', 'jit', 'decrypt-limit'] : ['cached', 'jit', 'decrypt-limit'];
}

/** Measurements (each a warm-up and the repetitions) in a whole run: for the watchdog's budget. */
export function measurementCount(): number {
  return SIZES.length * KINDS.reduce((n, kind) => n + roundOrder(kind).length, 0);
}

/** "cached age 10 keys", "decrypt limit kms 1000 keys"; the HTTP limit has no kind ("HTTP limit 10 keys"). */
export function scenarioLabel(what: What, kind: string, keys: number): string {
  return `${LABEL[what]} ${what === 'http-limit' ? '' : `${kind} `}${keys} keys`;
}

interface Started {
  readonly agent: BenchAgent;
  readonly readyMs: number[];
}

/** Starts the agent STARTS times (start-to-ready samples) and keeps the last one running. */
async function startAgentTimed(f: KindFixture, mode: Mode, cpus: string | undefined): Promise<Started> {
  const env = { ...f.env, CLEF_AGENT_CACHE_TTL: mode === 'jit' ? '0' : '300' };
  const readyMs: number[] = [];
  for (let i = 1; i < STARTS; i++) {
    const a = await startBenchAgent(env, cpus);
    readyMs.push(a.readyMs);
    await a.stop();
  }
  const agent = await startBenchAgent(env, cpus);
  readyMs.push(agent.readyMs);
  return { agent, readyMs };
}

export async function runSuite(profile: Profile, pinning: Pinning, fx: Fixtures, log: (line: string) => void): Promise<SuiteResult> {
  const notes: string[] = [];
  log('micro-benchmark (bench/decrypt-micro.ts): naive vs reused vs fast age decryption');
  const micro = await runMicro(pinning.agentCpus, profile.name === 'full' ? 2 : 1.5);
  log('micro-benchmark (bench/key-lookup-micro.ts): JIT single-key lookup, full parse + index vs one scan');
  const keyLookup = await runKeyLookup(pinning.agentCpus, profile.name === 'full' ? 2 : 1);
  const loadgen = new Loadgen(pinning.loadCpus);
  const health = new HealthProbe(pinning.loadCpus, pinning.probeNice);
  const scenarios: ScenarioResult[] = [];
  /** The first kind's body per size: every other kind must answer the same bytes (its HTTP limit). */
  const bodies = new Map<number, Buffer>();
  let workers = 0;
  const stops: (() => Promise<void>)[] = [];
  try {
    for (const kind of KINDS) {
      const order = roundOrder(kind);
      const kms = kind === 'kms' ? fx.kms : undefined;
      if (kind === 'kms' && kms === undefined) throw new Error('the KMS fixtures were not set up');
      for (const keys of SIZES) {
        const f = fx.get(kind, keys);
        const auth = { authorization: `Bearer ${fx.token}` };
        log(
          `${kind} ${keys} keys: starting the cached and JIT agents (${STARTS} starts each)${order.includes('http-limit') ? ', the HTTP limit' : ''} and the decryption limit`,
        );
        const cached = await startAgentTimed(f, 'cached', pinning.agentCpus);
        stops.push(() => cached.agent.stop());
        const jit = await startAgentTimed(f, 'jit', pinning.agentCpus);
        stops.push(() => jit.agent.stop());
        workers = jit.agent.workers;
        const body = await get(cached.agent.port, '/v1/secrets', auth);
        const jitBody = await get(jit.agent.port, '/v1/secrets', auth);
        if (body.status !== 200 || jitBody.status !== 200) throw new Error(`/v1/secrets answered ${body.status} (cached), ${jitBody.status} (JIT)`);
        if (!body.body.equals(jitBody.body)) notes.push(`${kind} ${keys} keys: the JIT body differs from the cached body`);
        const first = bodies.get(keys);
        if (first === undefined) bodies.set(keys, body.body);
        else if (!first.equals(body.body))
          notes.push(`${kind} ${keys} keys: the body differs from the ${KINDS[0]} body, so the HTTP limit of that size is not its limit`);
        let limitPort = 0;
        if (order.includes('http-limit')) {
          const bodyFile = join(fx.dir, `body-${keys}.json`);
          await writeFile(bodyFile, body.body, { mode: 0o600 });
          const limit = await startHttpLimit(bodyFile, pickHeaders(body.headers), pinning.agentCpus);
          stops.push(() => limit.stop());
          limitPort = limit.port;
        }
        const decrypt = new DecryptLimit(
          { artifactPath: f.artifactPath, ageKeyFile: kind === 'age' ? fx.ageKeyFile : undefined, workers, concurrency: profile.connections },
          pinning.agentCpus,
          f.workerEnv,
        );
        stops.push(() => decrypt.close());
        await decrypt.ready();

        const targets = { cached: cached.agent.port, jit: jit.agent.port, 'http-limit': limitPort };
        const measure = (what: What, seconds: number): Promise<Rep> => {
          if (what === 'decrypt-limit') return decrypt.run({ seconds }).then((load) => ({ load }));
          const probed = what === 'cached' ? cached.agent : what === 'jit' ? jit.agent : undefined;
          return httpRep(loadgen, { port: targets[what], path: '/v1/secrets', headers: auth }, profile, seconds, probed && { agent: probed, health });
        };
        const rep = async (what: What, seconds: number): Promise<Rep> => {
          if (kms === undefined) return measure(what, seconds);
          const { result, kms: use } = await kms.around(() => measure(what, seconds));
          return { ...result, kms: use };
        };
        if (profile.warmupSeconds > 0) for (const what of order) await rep(what, profile.warmupSeconds);
        const reps: Record<What, Rep[]> = { cached: [], jit: [], 'http-limit': [], 'decrypt-limit': [] };
        for (let i = 1; i <= profile.reps; i++) {
          log(`  round ${i}/${profile.reps}: ${order.map((w) => LABEL[w]).join(', ')}`);
          for (const what of order) reps[what].push(await rep(what, profile.seconds));
        }
        const healthBad = [...reps.cached, ...reps.jit].reduce((n, r) => n + (r.health ? r.health.errors + r.health.non2xx : 0), 0);
        if (healthBad > 0) notes.push(`${kind} ${keys} keys: ${healthBad} /v1/health probes failed or were not 200`);
        const kmsFailures = order.flatMap((w) => reps[w]).reduce((n, r) => n + (r.kms?.failures ?? 0), 0);
        if (kmsFailures > 0) notes.push(`${kind} ${keys} keys: the KMS server answered ${kmsFailures} calls with an error`);
        for (const what of order) {
          const ready = what === 'cached' ? cached.readyMs : what === 'jit' ? jit.readyMs : undefined;
          const s = summarise(what, kind, keys, reps[what], body.body.length, ready);
          scenarios.push(s);
          const calls = s.kmsDecryptsPerRequest === undefined ? '' : `, ${s.kmsDecryptsPerRequest.toFixed(2)} KMS Decrypt per request`;
          log(`  ${s.row.label}: ${s.row.rps.toFixed(0)} req/s, p99 ${s.row.p99Ms.toFixed(2)} ms, errors ${s.row.errors}, non-2xx ${s.row.non2xx}${calls}`);
          if (kms !== undefined && what !== 'cached' && (s.kmsDecryptsPerRequest ?? 0) < 0.95) {
            notes.push(`${s.row.label}: ${(s.kmsDecryptsPerRequest ?? 0).toFixed(2)} KMS Decrypt calls per request, where every request should make one`);
          }
        }
        await Promise.all(stops.splice(0).map((stop) => stop()));
      }
    }
  } finally {
    await Promise.all([...stops.map((stop) => stop()), loadgen.close(), health.close()]);
  }
  const rank = (s: ScenarioResult): number => ['cached', 'jit', 'http-limit', 'decrypt-limit'].indexOf(s.what);
  scenarios.sort((a, b) => KINDS.indexOf(a.kind) - KINDS.indexOf(b.kind) || a.keys - b.keys || rank(a) - rank(b));
  return { scenarios, micro, keyLookup, workers, notes };
}

function pickHeaders(h: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of ['content-type', 'cache-control', 'x-content-type-options']) {
    const v = h[name];
    if (typeof v === 'string') out[name] = v;
  }
  return out;
}

/** Medians over repetitions (max: the largest; counts: summed; peak RSS: the largest). */
function summarise(what: What, kind: EncryptionKind, keys: number, reps: readonly Rep[], bodyBytes: number, readyMsSamples?: number[]): ScenarioResult {
  const of = (f: (r: Rep) => number | undefined): number[] => reps.map(f).filter((x): x is number => x !== undefined);
  const row: TableRow = { ...repsRow(scenarioLabel(what, kind, keys), reps), readyMs: readyMsSamples === undefined ? undefined : median(readyMsSamples) };
  const cpu = of((r) => ('generatorCpu' in r.load ? r.load.generatorCpu : undefined));
  const agentCpu = of((r) => r.probe?.cpuCores);
  const kms = reps.map((r) => r.kms).filter((k): k is KmsUse => k !== undefined);
  const threads = threadUse(reps);
  return {
    id: `${what}/${kind}/${keys}`,
    what,
    kind,
    keys,
    row,
    reps,
    readyMsSamples,
    generatorCpu: cpu.length > 0 ? median(cpu) : undefined,
    agentCpu: agentCpu.length > 0 ? median(agentCpu) : undefined,
    threads,
    kmsCpu: kms.length > 0 ? median(kms.map((k) => k.cpuCores)) : undefined,
    kmsDecryptsPerRequest: kms.length > 0 ? kms.reduce((n, k) => n + k.decrypts, 0) / Math.max(1, row.requests) : undefined,
    bodyBytes,
  };
}

/** A table row of medians over repetitions (max: the largest; counts: summed; peak RSS: the largest). */
export function repsRow(label: string, reps: readonly Rep[]): TableRow {
  const of = (f: (r: Rep) => number | undefined): number[] => reps.map(f).filter((x): x is number => x !== undefined);
  const probed = reps.some((r) => r.probe !== undefined);
  return {
    label,
    rps: median(of((r) => r.load.rps)),
    p50Ms: median(of((r) => r.load.p50Ms)),
    p99Ms: median(of((r) => r.load.p99Ms)),
    maxMs: Math.max(...of((r) => r.load.maxMs)),
    requests: of((r) => r.load.requests).reduce((a, b) => a + b, 0),
    errors: of((r) => r.load.errors).reduce((a, b) => a + b, 0),
    non2xx: of((r) => r.load.non2xx).reduce((a, b) => a + b, 0),
    healthP99Ms: probed ? median(of((r) => r.health?.p99Ms)) : undefined,
    eventLoopP99Ms: probed ? median(of((r) => r.probe?.loopP99Ms)) : undefined,
    peakRssMiB: probed ? Math.max(...of((r) => r.probe?.peakRssMiB)) : undefined,
  };
}

/** Per-request CPU of the main thread and of the rest, from the probe; undefined without its figures. */
export function threadUse(reps: readonly Rep[]): ThreadUse | undefined {
  const per = reps.flatMap((r) => {
    const m = r.probe?.mainThread;
    const requests = r.load.requests;
    if (r.probe === undefined || m === undefined || requests <= 0) return [];
    const allCpuMs = r.probe.cpuCores * r.probe.windowMs;
    return [
      {
        main: (m.cpuMs * 1000) / requests,
        other: (Math.max(0, allCpuMs - m.cpuMs) * 1000) / requests,
        wait: m.waitMs / r.probe.windowMs,
        preemptions: m.preemptions / (r.probe.windowMs / 1000),
      },
    ];
  });
  if (per.length === 0) return undefined;
  return {
    mainCpuUsPerRequest: median(per.map((x) => x.main)),
    otherCpuUsPerRequest: median(per.map((x) => x.other)),
    mainWaitShare: median(per.map((x) => x.wait)),
    mainPreemptionsPerSecond: median(per.map((x) => x.preemptions)),
  };
}
