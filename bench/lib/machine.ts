/** The machine a run happened on, and how its cores are split between load and agent. */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { ROOT } from './proc.js';
import type { Fixtures } from './fixtures.js';

export interface Machine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly platform: string;
  /** 1-minute load average when the run started (it still counts the previous run for a while). */
  readonly loadAvgAtStart: number;
  /** Share of all CPUs busy during the second before the run (/proc/stat): others' work skews every number. */
  readonly busyAtStart: number | null;
  readonly commit: string;
}

export interface Pinning {
  /** `taskset -c` list for the bench itself, the load generator, the health prober and the KMS server. */
  readonly loadCpus?: string | undefined;
  /** `taskset -c` list for the agent, the HTTP-limit server, the decryption limit and the micro-benchmark. */
  readonly agentCpus?: string | undefined;
  /** `nice` adjustment of the health probe (undefined: raising priority is not permitted here). */
  readonly probeNice?: number | undefined;
  readonly note: string;
}

/** Fraction of CPU time not idle across all CPUs over `ms`, from /proc/stat; null where unreadable. */
async function busyFraction(ms: number): Promise<number | null> {
  const read = (): number[] | null => {
    try {
      const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
      return cpu.trim().split(/\s+/).slice(1).map(Number);
    } catch {
      return null;
    }
  };
  const a = read();
  await sleep(ms);
  const b = read();
  if (a === null || b === null || a.length < 5) return null;
  const d = b.map((v, i) => v - (a[i] ?? 0));
  const total = d.reduce((x, y) => x + y, 0);
  const idle = (d[3] ?? 0) + (d[4] ?? 0); // idle + iowait
  return total > 0 ? 1 - idle / total : null;
}

/** Busy CPU ticks of the whole machine so far (/proc/stat), null where unreadable. */
function machineBusyTicks(): number | null {
  try {
    const f = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    return f.reduce((a, b) => a + b, 0) - (f[3] ?? 0) - (f[4] ?? 0);
  } catch {
    return null;
  }
}

/** CPU ticks of this process and of every child it has reaped (/proc/self/stat utime+stime+cutime+cstime). */
function ownTicks(): number | null {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const f = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    return (f[11] ?? 0) + (f[12] ?? 0) + (f[13] ?? 0) + (f[14] ?? 0);
  } catch {
    return null;
  }
}

/**
 * Measures how much CPU processes other than the bench and its children used while `run` ran,
 * as a share of the machine (all cores × wall time). Call `done()` after every child has exited.
 */
export function foreignCpu(cores: number): { done(): number | null } {
  const busy0 = machineBusyTicks();
  const own0 = ownTicks();
  const t0 = performance.now();
  return {
    done: () => {
      const busy1 = machineBusyTicks();
      const own1 = ownTicks();
      if (busy0 === null || own0 === null || busy1 === null || own1 === null) return null;
      const capacityTicks = ((performance.now() - t0) / 1000) * 100 * cores; // USER_HZ is 100 on Linux
      return Math.max(0, (busy1 - busy0 - (own1 - own0)) / capacityTicks);
    },
  };
}

export async function describeMachine(): Promise<Machine> {
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' });
  const dirty = spawnSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: ROOT, encoding: 'utf8' });
  const commit = git.status === 0 ? `${git.stdout.trim()}${dirty.stdout.trim() === '' ? '' : ' (with local changes)'}` : 'unknown';
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: availableParallelism(),
    node: process.version,
    platform: `${process.platform}/${process.arch}`,
    loadAvgAtStart: loadavg()[0] ?? 0,
    busyAtStart: await busyFraction(1000),
    commit,
  };
}

/** More than 10 % of the CPUs busy before the run: something else is running. */
export function isBusy(m: Machine): boolean {
  return (m.busyAtStart ?? 0) > 0.1;
}

export function machineLine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${m.platform}`;
}

/**
 * Core 0 for the load side, every other core for the agent side. On 2 cores that gives the agent
 * one core, shared by its main thread and its worker(s): the generator must run somewhere, and
 * keeping it off the agent's core is what makes the numbers repeatable. Without taskset, or on one
 * core, nothing is pinned and the report says so.
 */
export function planPinning(cores: number, wanted: boolean): Pinning {
  // `nice` runs the command even when it may not raise the priority, so read the niceness back.
  const rt = spawnSync('nice', ['-n', String(PROBE_NICE), 'nice'], { encoding: 'utf8' }).stdout?.trim() === String(PROBE_NICE) ? PROBE_NICE : undefined;
  const probe = rt === undefined ? 'health probe at normal priority (raising it is not permitted)' : `health probe at nice ${rt}`;
  if (!wanted) return { probeNice: rt, note: `not pinned (--no-pin): load generator and agent share all cores; ${probe}` };
  if (cores < 2) return { probeNice: rt, note: `not pinned: a single core; ${probe}` };
  if (spawnSync('taskset', ['-c', '0', 'true']).status !== 0) return { probeNice: rt, note: `not pinned: taskset is not available; ${probe}` };
  const agentCpus = cores === 2 ? '1' : `1-${cores - 1}`;
  return {
    loadCpus: '0',
    agentCpus,
    probeNice: rt,
    note: `taskset: bench, autocannon and the health probe on CPU 0 (${probe}); agent (main thread + pool), HTTP-limit server, decryption limit and micro-benchmark on CPU ${agentCpus}`,
  };
}

const PROBE_NICE = -15;

/** Moves this process (and so every child not pinned elsewhere) to the load side's CPUs. */
export function pinSelf(p: Pinning): void {
  if (p.loadCpus !== undefined) spawnSync('taskset', ['-a', '-p', '-c', p.loadCpus, String(process.pid)], { stdio: 'ignore' });
}

/** What a whole bench run shares: the machine, the CPU plan, the artifacts and where results go. */
export interface RunContext {
  readonly machine: Machine;
  readonly pinning: Pinning;
  readonly fx: Fixtures;
  readonly outDir: string;
  /** Timestamp that names this run's result files. */
  readonly stamp: string;
  readonly log: (line: string) => void;
}
