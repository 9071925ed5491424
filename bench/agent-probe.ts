/**
 * Measurement probe for the agent process, loaded with `node --import <this> dist/src/main.js`.
 *
 * The agent exposes no event-loop metric over HTTP, and a delay cannot be measured from outside,
 * so the bench preloads this module into the real agent process (the real CLI, config, server and
 * pool: nothing is added to production code). It runs on the agent's main thread only (the pool
 * starts workers with `execArgv: []`, so they do not load it) and answers the bench over the IPC
 * channel the bench opened:
 *   { probe: 'reset' }        start a new window (event-loop histogram cleared and enabled)
 *   { probe: 'read', id }     reply { probe: 'stats', id, ... } for the window, which ends
 * Without an IPC channel it does nothing. Cost: one 1 ms libuv timer (monitorEventLoopDelay) and a
 * few reads per measurement (two small /proc files at each end of a window).
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** What the probe reports for one window. Latencies in ms, memory in MiB. */
export interface ProbeStats {
  readonly probe: 'stats';
  readonly id: number;
  /** Event-loop delay percentiles (Node's histogram: the 1 ms sampling interval is included). */
  readonly loopP50Ms: number;
  readonly loopP99Ms: number;
  readonly loopMaxMs: number;
  readonly loopSamples: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** Peak RSS of the whole process (main thread and workers) since it started. */
  readonly peakRssMiB: number;
  /** CPU time of the whole process (all threads) in the window ÷ its wall time: 1 = one core busy. */
  readonly cpuCores: number;
  /** Wall time of the window. */
  readonly windowMs: number;
  /** The main (HTTP) thread alone in the window, from the kernel's scheduler accounting (Linux only). */
  readonly mainThread?: MainThreadStats | undefined;
}

/**
 * Scheduler accounting of one thread over a window: time on a CPU, time runnable but waiting for
 * one (another thread had the core), and how often the kernel took the core away from it.
 */
export interface MainThreadStats {
  readonly cpuMs: number;
  readonly waitMs: number;
  readonly preemptions: number;
}

export const PROBE_RESOLUTION_MS = 1;

type ProbeMessage = { readonly probe: 'reset' } | { readonly probe: 'read'; readonly id: number };

function isProbeMessage(m: unknown): m is ProbeMessage {
  return typeof m === 'object' && m !== null && 'probe' in m && (m.probe === 'reset' || m.probe === 'read');
}

const MIB = 1024 * 1024;

/**
 * The main thread's counters: `/proc/self/task/<pid>/schedstat` ("<ns on CPU> <ns waiting on a run
 * queue> <timeslices>") and the `nonvoluntary_ctxt_switches` line of its `status`. The main
 * thread's task id is the process id. Undefined where /proc or schedstats are missing.
 */
export function mainThreadCounters(): MainThreadStats | undefined {
  try {
    const dir = `/proc/self/task/${process.pid}`;
    const [onCpu, waiting] = readFileSync(`${dir}/schedstat`, 'utf8').trim().split(/\s+/).map(Number);
    const preempted = /^nonvoluntary_ctxt_switches:\s*(\d+)/m.exec(readFileSync(`${dir}/status`, 'utf8'))?.[1];
    if (onCpu === undefined || waiting === undefined || preempted === undefined || !Number.isFinite(onCpu) || !Number.isFinite(waiting)) return undefined;
    return { cpuMs: onCpu / 1e6, waitMs: waiting / 1e6, preemptions: Number(preempted) };
  } catch {
    return undefined;
  }
}

function since(now: MainThreadStats | undefined, then: MainThreadStats | undefined): MainThreadStats | undefined {
  if (now === undefined || then === undefined) return undefined;
  return { cpuMs: now.cpuMs - then.cpuMs, waitMs: now.waitMs - then.waitMs, preemptions: now.preemptions - then.preemptions };
}

function install(send: (m: ProbeStats) => void): void {
  const loop = monitorEventLoopDelay({ resolution: PROBE_RESOLUTION_MS });
  let cpu0 = process.cpuUsage();
  let wall0 = performance.now();
  let main0 = mainThreadCounters();
  process.on('message', (m: unknown) => {
    if (!isProbeMessage(m)) return;
    if (m.probe === 'reset') {
      loop.reset();
      loop.enable();
      cpu0 = process.cpuUsage();
      wall0 = performance.now();
      main0 = mainThreadCounters();
      return;
    }
    const cpu = process.cpuUsage(cpu0);
    const mainThread = since(mainThreadCounters(), main0);
    const windowMs = performance.now() - wall0;
    // Between windows the timer is off, so an idle agent does not tick on a core another
    // measurement is using.
    loop.disable();
    const mem = process.memoryUsage();
    send({
      probe: 'stats',
      id: m.id,
      loopP50Ms: loop.percentile(50) / 1e6,
      loopP99Ms: loop.percentile(99) / 1e6,
      loopMaxMs: loop.max / 1e6,
      loopSamples: loop.count,
      rssMiB: mem.rss / MIB,
      heapUsedMiB: mem.heapUsed / MIB,
      peakRssMiB: (process.resourceUsage().maxRSS * 1024) / MIB,
      cpuCores: (cpu.user + cpu.system) / 1000 / windowMs,
      windowMs,
      mainThread,
    });
  });
  // The probe must not keep the agent alive: its own lifecycle decides when it exits.
  process.channel?.unref();
}

const send = process.send?.bind(process);
if (send !== undefined) install((m) => send(m));
