/**
 * The measuring processes and one repetition of each kind of measurement. The suite interleaves
 * repetitions (cached, HTTP limit, JIT, decryption limit, then again), so load drifting on a shared
 * machine hits a scenario and its limit alike, and the ratios survive it.
 */
import type { ChildProcess } from 'node:child_process';
import type { ProbeStats } from '../agent-probe.js';
import type { DecryptLimitArgs, DecryptLimitSummary } from '../decrypt-limit.js';
import type { HealthProbeRun } from '../health-probe.js';
import type { LoadgenRun, LoadgenSummary } from '../loadgen.js';
import type { LoadRun } from '../../tools/loadtest/engine.js';
import type { BenchAgent } from './agent.js';
import type { KmsUse } from './kms.js';
import type { Profile } from './options.js';
import { distFile, nextMessage, spawnNode, stopChild, type SpawnOptions } from './proc.js';

export interface Rep {
  readonly load: LoadgenSummary | DecryptLimitSummary;
  readonly health?: LoadRun | undefined;
  readonly probe?: ProbeStats | undefined;
  /** KMS scenarios: what the local KMS server did during the repetition. */
  readonly kms?: KmsUse | undefined;
}

/** A long-lived measuring child driven over IPC: `{ cmd: 'run', id, ... }` → `{ id, summary | error }`. */
export class RunnerProcess<Req extends { readonly seconds: number }, Res> {
  protected readonly child: ChildProcess;
  private nextId = 1;

  constructor(
    script: string,
    private readonly what: string,
    options: SpawnOptions,
    args: readonly string[] = [],
  ) {
    this.child = spawnNode(distFile(script), args, options);
  }

  async run(o: Req): Promise<Res> {
    const id = this.nextId++;
    this.child.send({ cmd: 'run', id, ...o });
    const pick = (m: unknown): { summary?: Res; error?: string } | undefined =>
      typeof m === 'object' && m !== null && 'id' in m && m.id === id ? (m as { summary?: Res; error?: string }) : undefined;
    const reply = await nextMessage(this.child, pick, (o.seconds + 30) * 1000, this.what);
    if (reply.summary === undefined) throw new Error(`${this.what}: ${reply.error ?? 'no result'}`);
    return reply.summary;
  }

  close(): Promise<void> {
    if (this.child.connected) this.child.disconnect();
    return stopChild(this.child);
  }
}

/** The autocannon process, started once per bench run on the load side's CPUs. */
export class Loadgen extends RunnerProcess<Omit<LoadgenRun, 'cmd' | 'id'>, LoadgenSummary> {
  constructor(cpus: string | undefined) {
    super('bench/loadgen.js', 'load generator', { cpus });
  }
}

/** The `/v1/health` client, on the load side's CPUs at a raised priority where permitted. */
export class HealthProbe extends RunnerProcess<Omit<HealthProbeRun, 'cmd' | 'id'>, LoadRun> {
  constructor(cpus: string | undefined, nice: number | undefined) {
    super('bench/health-probe.js', 'health probe', { cpus, nice });
  }
}

/**
 * The decryption limit (bench/decrypt-limit.ts) on the agent's CPUs; `ready()` once its pool is
 * warm. Its environment is the agent's (bench/lib/agent.ts): PATH and `env`, what the workers read
 * themselves (KMS: the AWS_* variables), so a proxy or AWS variable of the bench's own shell
 * cannot send its KMS calls another way than the agent's.
 */
export class DecryptLimit extends RunnerProcess<{ readonly seconds: number }, DecryptLimitSummary> {
  constructor(args: DecryptLimitArgs, cpus: string | undefined, env: Readonly<Record<string, string>> = {}) {
    super('bench/decrypt-limit.js', 'decryption limit', { cpus, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env } }, [JSON.stringify(args)]);
  }

  async ready(): Promise<void> {
    const m = await nextMessage(
      this.child,
      (x) => (typeof x === 'object' && x !== null && 'ready' in x ? (x as { ready: boolean; error?: string }) : undefined),
      30_000,
      'decryption limit',
    );
    if (!m.ready) throw new Error(`decryption limit: ${m.error ?? 'failed to start'}`);
  }
}

/** The bare node:http server (bench/http-limit.ts) on the agent's CPUs. */
export async function startHttpLimit(
  bodyFile: string,
  headers: Readonly<Record<string, string>>,
  cpus: string | undefined,
): Promise<{ port: number; stop(): Promise<void> }> {
  const child = spawnNode(distFile('bench/http-limit.js'), [JSON.stringify({ bodyFile, headers })], { cpus });
  try {
    const port = await nextMessage(
      child,
      (m) => (typeof m === 'object' && m !== null && 'port' in m && typeof m.port === 'number' ? m.port : undefined),
      10_000,
      'HTTP-limit server',
    );
    return { port, stop: () => stopChild(child) };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

export interface Target {
  readonly port: number;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** One HTTP repetition; with an agent, the health client runs beside it and the probe covers it. */
export async function httpRep(
  loadgen: Loadgen,
  target: Target,
  profile: Profile,
  seconds: number,
  agent?: { readonly agent: BenchAgent; readonly health: HealthProbe },
): Promise<Rep> {
  const url = `http://127.0.0.1:${target.port}${target.path}`;
  agent?.agent.resetProbe();
  const health = agent?.health.run({ url: `http://127.0.0.1:${target.port}/v1/health`, rate: profile.healthRate, seconds });
  const [load, h] = await Promise.all([loadgen.run({ url, headers: target.headers, connections: profile.connections, seconds }), health]);
  const probe = await agent?.agent.readProbe();
  return { load, health: h, probe };
}

export interface MicroRow {
  readonly keys: number;
  readonly plaintextBytes: number;
  readonly naiveUs: number;
  readonly reusedUs: number;
  readonly fastUs: number;
  readonly fastOverNaive: number;
}

/** bench/decrypt-micro.ts as it stands (naive vs reused vs fast), on the agent's CPUs. */
export function runMicro(cpus: string | undefined, seconds: number): Promise<MicroRow[]> {
  return runResultScript<MicroRow>('decrypt-micro', cpus, seconds);
}

/** A bench/key-lookup-micro.ts row: the JIT single-key lookup before (index) and after (scan). */
export interface KeyLookupRow {
  readonly keys: number;
  readonly plaintextBytes: number;
  readonly indexUs: number;
  readonly scanUs: number;
  readonly indexPerSecond: number;
  readonly scanPerSecond: number;
  readonly scanOverIndex: number;
}

/** bench/key-lookup-micro.ts (10 000 and 100 000 keys), on the agent's CPUs. */
export function runKeyLookup(cpus: string | undefined, seconds: number): Promise<KeyLookupRow[]> {
  return runResultScript<KeyLookupRow>('key-lookup-micro', cpus, seconds);
}

/** Runs bench/<name>.js and returns the rows of its `RESULT ` line. */
async function runResultScript<R>(name: string, cpus: string | undefined, seconds: number): Promise<R[]> {
  const child = spawnNode(distFile(`bench/${name}.js`), [], { cpus, pipe: true, env: { ...stringEnv(), BENCH_SECONDS: String(seconds) } });
  let out = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.resume();
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const line = out.split('\n').find((l) => l.startsWith('RESULT '));
  if (code !== 0 || line === undefined) throw new Error(`${name} failed (exit ${code ?? 'signal'})`);
  return (JSON.parse(line.slice('RESULT '.length)) as { rows: R[] }).rows;
}

function stringEnv(): Record<string, string> {
  return Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
}

export function median(xs: readonly number[]): number {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return Number.NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? Number.NaN) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/**
 * Warm each agent up, then `profile.reps` rounds in which every agent in turn takes the same
 * `GET /v1/secrets` load: interleaving spreads a shared machine's drift over all of them alike.
 * One Rep list per agent, in the agents' order.
 */
export async function interleavedSecretsRounds(
  agents: readonly BenchAgent[],
  o: {
    readonly loadgen: Loadgen;
    readonly health: HealthProbe;
    readonly profile: Profile;
    readonly token: string;
    readonly label: string;
    readonly log: (line: string) => void;
  },
): Promise<Rep[][]> {
  const { loadgen, health, profile } = o;
  const target = (a: BenchAgent): Target => ({ port: a.port, path: '/v1/secrets', headers: { authorization: `Bearer ${o.token}` } });
  if (profile.warmupSeconds > 0) for (const a of agents) await httpRep(loadgen, target(a), profile, profile.warmupSeconds, { agent: a, health });
  const reps: Rep[][] = agents.map(() => []);
  for (let i = 1; i <= profile.reps; i++) {
    o.log(`  ${o.label}, round ${i}/${profile.reps}`);
    // Every other round runs backwards, so no agent is always measured right after the same one:
    // on a 2-core machine the order alone moved JIT ratios by 10-20 %.
    const order = [...agents.keys()];
    if (i % 2 === 0) order.reverse();
    for (const j of order) {
      const a = agents[j] as BenchAgent;
      reps[j]?.push(await httpRep(loadgen, target(a), profile, profile.seconds, { agent: a, health }));
    }
  }
  return reps;
}
