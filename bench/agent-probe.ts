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
 * few reads per measurement.
 */
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
}

export const PROBE_RESOLUTION_MS = 1;

type ProbeMessage = { readonly probe: 'reset' } | { readonly probe: 'read'; readonly id: number };

function isProbeMessage(m: unknown): m is ProbeMessage {
  return typeof m === 'object' && m !== null && 'probe' in m && (m.probe === 'reset' || m.probe === 'read');
}

const MIB = 1024 * 1024;

function install(send: (m: ProbeStats) => void): void {
  const loop = monitorEventLoopDelay({ resolution: PROBE_RESOLUTION_MS });
  let cpu0 = process.cpuUsage();
  let wall0 = performance.now();
  process.on('message', (m: unknown) => {
    if (!isProbeMessage(m)) return;
    if (m.probe === 'reset') {
      loop.reset();
      loop.enable();
      cpu0 = process.cpuUsage();
      wall0 = performance.now();
      return;
    }
    const cpu = process.cpuUsage(cpu0);
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
      cpuCores: (cpu.user + cpu.system) / 1000 / (performance.now() - wall0),
    });
  });
  // The probe must not keep the agent alive: its own lifecycle decides when it exits.
  process.channel?.unref();
}

const send = process.send?.bind(process);
if (send !== undefined) install((m) => send(m));
