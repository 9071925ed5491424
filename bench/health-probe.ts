/**
 * The low-rate `/v1/health` client that runs beside the load (the engine of tools/loadtest, one
 * keep-alive connection, paced), in its own process at a raised priority (`nice -n -15`) where the
 * machine allows: it shares CPU 0 with autocannon, and at equal priority part of its latency would
 * be time spent waiting for CPU 0 rather than for the agent. It needs a few ms of CPU per second.
 * (A real-time class was tried and rejected: a SCHED_FIFO Node process pinned to one core can
 * starve everything else on it whenever its runtime threads spin.)
 *
 *   → { cmd: 'run', id, url, rate, seconds }
 *   ← { id, summary }   (LoadRun)
 */
import { runLoad, type LoadRun } from '../tools/loadtest/engine.js';

export interface HealthProbeRun {
  readonly cmd: 'run';
  readonly id: number;
  readonly url: string;
  readonly rate: number;
  readonly seconds: number;
}

export interface HealthProbeReply {
  readonly id: number;
  readonly summary?: LoadRun;
  readonly error?: string;
}

function isRun(m: unknown): m is HealthProbeRun {
  return typeof m === 'object' && m !== null && 'cmd' in m && m.cmd === 'run';
}

process.on('message', (m: unknown) => {
  if (!isRun(m)) return;
  runLoad({ url: new URL(m.url), headers: {}, connections: 1, rate: m.rate, durationSeconds: m.seconds, timeoutMs: 5_000 }).then(
    (summary) => process.send?.({ id: m.id, summary } satisfies HealthProbeReply),
    (err: unknown) => process.send?.({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies HealthProbeReply),
  );
});
process.once('disconnect', () => process.exit(0));
setTimeout(() => process.exit(3), 2 * 3600_000).unref();
