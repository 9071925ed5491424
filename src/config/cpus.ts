/**
 * The default worker count: one less than the CPUs this process may actually use, at least 1.
 * `os.availableParallelism()` on Node 20 counts the CPUs the process may be scheduled on but not a
 * container's CPU quota (a pod limited to 1 CPU on a 64-core node would start 63 workers), so the
 * cgroup quota is read too: v2 `cpu.max` ("<quota|max> <period>"), v1 `cpu.cfs_quota_us` and
 * `cpu.cfs_period_us` (quota -1 = unlimited); ceil(quota / period) CPUs. Limits nest, so every level
 * from the process's cgroup up to the mount root is read and the smallest limit wins. Unreadable or
 * malformed files mean "no limit known", never an error.
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';

export const MAX_WORKERS = 64;

export interface CpuProbe {
  /** Where the cgroup filesystem is mounted. */
  readonly cgroupRoot?: string | undefined;
  /** The process's cgroup membership file. */
  readonly selfCgroupFile?: string | undefined;
  /** CPUs the scheduler allows, before any quota. */
  readonly availableParallelism?: (() => number) | undefined;
}

function readText(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}

function ceilRatio(quota: number, period: number): number | undefined {
  if (!Number.isSafeInteger(quota) || !Number.isSafeInteger(period) || quota <= 0 || period <= 0) return undefined;
  return Math.max(1, Math.ceil(quota / period));
}

/** Parses a cgroup v2 `cpu.max`: "max 100000" → undefined (no limit), "50000 100000" → 1. */
export function parseCpuMax(content: string): number | undefined {
  const m = /^\s*(max|\d+)\s+(\d+)\s*$/.exec(content);
  if (m === null || m[1] === 'max') return undefined;
  return ceilRatio(Number(m[1]), Number(m[2]));
}

/** Parses cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`: quota -1 → undefined (no limit). */
export function parseCfsQuota(quota: string, period: string): number | undefined {
  const q = quota.trim();
  const p = period.trim();
  if (!/^-?\d+$/.test(q) || !/^\d+$/.test(p)) return undefined;
  return ceilRatio(Number(q), Number(p));
}

/** `dir`, then each parent of it up to and including `root`. */
function levels(root: string, cgroupPath: string): string[] {
  const parts = cgroupPath.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const out: string[] = [];
  for (let i = parts.length; i >= 0; i--) out.push(join(root, ...parts.slice(0, i)));
  return out;
}

function minDefined(values: readonly (number | undefined)[]): number | undefined {
  const known = values.filter((v): v is number => v !== undefined);
  return known.length === 0 ? undefined : Math.min(...known);
}

/**
 * The CPU limit from the cgroup quota, or undefined when there is none (or none can be read).
 * `/proc/self/cgroup` lines are `0::<path>` (v2) or `<id>:<controllers>:<path>` (v1); in a container
 * with its own cgroup namespace the path is usually `/`, so the mount root itself holds the limit.
 */
export function cgroupCpuLimit(probe: CpuProbe = {}): number | undefined {
  const root = probe.cgroupRoot ?? '/sys/fs/cgroup';
  const self = readText(probe.selfCgroupFile ?? '/proc/self/cgroup') ?? '';
  const lines = self.split('\n').map((l) => l.split(':'));
  const v2Path = lines.find((f) => f[0] === '0' && f[1] === '')?.[2] ?? '/';
  const v2 = minDefined(
    levels(root, v2Path).map((dir) => {
      const text = readText(join(dir, 'cpu.max'));
      return text === undefined ? undefined : parseCpuMax(text);
    }),
  );
  if (v2 !== undefined) return v2;
  const v1Path = lines.find((f) => f[1]?.split(',').includes('cpu') === true)?.[2] ?? '/';
  const v1Dirs = ['cpu,cpuacct', 'cpu', 'cpuacct,cpu'].flatMap((c) => levels(join(root, c), v1Path));
  return minDefined(
    v1Dirs.map((dir) => {
      const quota = readText(join(dir, 'cpu.cfs_quota_us'));
      const period = readText(join(dir, 'cpu.cfs_period_us'));
      return quota === undefined || period === undefined ? undefined : parseCfsQuota(quota, period);
    }),
  );
}

/** CPUs this process can use: the scheduler's count capped by the cgroup quota. */
export function availableCpus(probe: CpuProbe = {}): number {
  const parallelism = Math.max(1, (probe.availableParallelism ?? availableParallelism)());
  const limit = cgroupCpuLimit(probe);
  return limit === undefined ? parallelism : Math.min(parallelism, limit);
}

/** One CPU is left to the main thread (HTTP server); at least 1 worker, at most MAX_WORKERS. */
export function defaultWorkerCount(probe: CpuProbe = {}): number {
  return Math.min(MAX_WORKERS, Math.max(1, availableCpus(probe) - 1));
}
