/**
 * The bench's load generator process: autocannon, driven over IPC so one process (pinned off the
 * agent's cores) serves every measurement of a scenario without paying its start-up each time.
 *
 *   → { cmd: 'run', id, url, headers, connections, seconds, rate? }
 *   ← { id, summary }   (LoadgenSummary)
 *
 * Latency: autocannon's own histogram has 1 ms resolution (it records integer milliseconds), too
 * coarse for sub-millisecond answers, so every `response` event's float latency also goes into a
 * node:perf_hooks histogram in microseconds; the percentiles reported come from that one.
 * Exits when the bench disconnects, or after a hard cap of 2 hours (the longest soak allowed).
 */
import { createHistogram } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { LoadSummary } from '../tools/loadtest/table.js';

export interface LoadgenRun {
  readonly cmd: 'run';
  readonly id: number;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly connections: number;
  readonly seconds: number;
  readonly rate?: number | undefined;
}

export interface LoadgenSummary extends LoadSummary {
  readonly seconds: number;
  readonly timeouts: number;
  /** CPU time of this generator process ÷ wall time (1 = one core busy the whole run). */
  readonly generatorCpu: number;
}

export interface LoadgenReply {
  readonly id: number;
  readonly summary?: LoadgenSummary;
  readonly error?: string;
}

function run(o: LoadgenRun): Promise<LoadgenSummary> {
  const latencyUs = createHistogram();
  let responses = 0;
  let non2xx = 0;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  return new Promise((resolve, reject) => {
    const instance = autocannon(
      {
        url: o.url,
        headers: { ...o.headers },
        connections: o.connections,
        duration: o.seconds,
        timeout: 10,
        ...(o.rate === undefined ? {} : { overallRate: o.rate }),
      },
      (err: unknown, result: autocannon.Result) => {
        if (err !== null && err !== undefined) {
          reject(err instanceof Error ? err : new Error('autocannon failed'));
          return;
        }
        const cpu = process.cpuUsage(cpu0);
        const wallMs = performance.now() - wall0;
        const ms = (us: number): number => (responses === 0 ? Number.NaN : us / 1000);
        resolve({
          rps: responses / result.duration,
          p50Ms: ms(latencyUs.percentile(50)),
          p99Ms: ms(latencyUs.percentile(99)),
          maxMs: ms(latencyUs.max),
          requests: responses,
          errors: result.errors,
          timeouts: result.timeouts,
          non2xx,
          seconds: result.duration,
          generatorCpu: (cpu.user + cpu.system) / 1000 / wallMs,
        });
      },
    );
    instance.on('response', (_client: autocannon.Client, status: number, _bytes: number, responseTimeMs: number) => {
      responses++;
      if (status < 200 || status > 299) non2xx++;
      latencyUs.record(Math.max(1, Math.round(responseTimeMs * 1000)));
    });
  });
}

function isRun(m: unknown): m is LoadgenRun {
  return typeof m === 'object' && m !== null && 'cmd' in m && m.cmd === 'run';
}

process.on('message', (m: unknown) => {
  if (!isRun(m)) return;
  run(m).then(
    (summary) => process.send?.({ id: m.id, summary } satisfies LoadgenReply),
    (err: unknown) => process.send?.({ id: m.id, error: err instanceof Error ? err.message : String(err) } satisfies LoadgenReply),
  );
});
process.once('disconnect', () => process.exit(0));
setTimeout(() => process.exit(3), 2 * 3600_000).unref();
