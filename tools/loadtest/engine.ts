/**
 * A small closed-loop HTTP load generator on node:http, so `clef-agent loadtest` works from an
 * installed package with no extra dependency (autocannon would add ~50 packages to a secrets
 * sidecar's runtime tree; it stays a devDependency for `npm run bench`).
 *
 * Each of `connections` loops sends one request on its own keep-alive socket, waits for the whole
 * response, records the latency and sends the next. With `rate`, each loop is paced so that all of
 * them together send `rate` requests per second (latency is timed from the actual send, so a server
 * slower than the pace shows up as a lower request rate, not as queueing in the client).
 * Everything is bounded: the run ends at its deadline, and requests still in flight get at most
 * `timeoutMs` more before their sockets are destroyed.
 */
import http from 'node:http';
import { createHistogram } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LoadSummary } from './table.js';

export interface LoadOptions {
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly connections: number;
  readonly durationSeconds: number;
  /** Requests per second across all connections; undefined = as fast as the server answers. */
  readonly rate?: number | undefined;
  /** Per-request deadline; a request past it counts as an error. */
  readonly timeoutMs: number;
  /** Stop early (e.g. SIGINT); the summary covers what ran. */
  readonly signal?: AbortSignal | undefined;
}

export interface LoadRun extends LoadSummary {
  readonly durationSeconds: number;
  readonly timeouts: number;
  /** Response count per status code. */
  readonly statuses: Readonly<Record<string, number>>;
}

const ERROR_PAUSE_MS = 10;

class Counters {
  requests = 0;
  errors = 0;
  timeouts = 0;
  non2xx = 0;
  readonly statuses = new Map<number, number>();
  readonly latencyUs = createHistogram();
}

export async function runLoad(o: LoadOptions): Promise<LoadRun> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.connections, maxFreeSockets: o.connections });
  const counters = new Counters();
  const start = performance.now();
  const deadline = start + o.durationSeconds * 1000;
  const intervalMs = o.rate === undefined ? 0 : (1000 * o.connections) / o.rate;
  const stopped = (): boolean => o.signal?.aborted === true || performance.now() >= deadline;

  const loop = async (index: number): Promise<void> => {
    // Loops start staggered across one interval so paced requests are spread, not bursts.
    let next = start + (intervalMs * index) / o.connections;
    while (!stopped()) {
      if (intervalMs > 0) {
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        next += intervalMs;
        if (stopped()) break;
      }
      const ok = await once(o, agent, counters);
      // A refused or reset connection fails at once: pause this loop briefly instead of spinning.
      if (!ok && !stopped()) await sleep(ERROR_PAUSE_MS);
    }
  };
  try {
    await Promise.all(Array.from({ length: o.connections }, (_, i) => loop(i)));
  } finally {
    agent.destroy();
  }
  const elapsedSeconds = (performance.now() - start) / 1000;
  const h = counters.latencyUs;
  const ms = (us: number): number => (counters.requests === 0 ? Number.NaN : us / 1000);
  return {
    rps: counters.requests / elapsedSeconds,
    p50Ms: ms(h.percentile(50)),
    p99Ms: ms(h.percentile(99)),
    maxMs: ms(h.max),
    requests: counters.requests,
    errors: counters.errors,
    timeouts: counters.timeouts,
    non2xx: counters.non2xx,
    durationSeconds: elapsedSeconds,
    statuses: Object.fromEntries([...counters.statuses].map(([k, v]) => [String(k), v])),
  };
}

/** One request; resolves when the response is fully read (true) or the request failed (false). */
function once(o: LoadOptions, agent: http.Agent, c: Counters): Promise<boolean> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let settled = false;
    const settle = (status: number | 'error' | 'timeout'): void => {
      if (settled) return;
      settled = true;
      if (status === 'error' || status === 'timeout') {
        c.errors++;
        if (status === 'timeout') c.timeouts++;
      } else {
        c.requests++;
        c.latencyUs.record(Math.max(1, Number((process.hrtime.bigint() - t0) / 1000n)));
        c.statuses.set(status, (c.statuses.get(status) ?? 0) + 1);
        if (status < 200 || status > 299) c.non2xx++;
      }
      resolve(status !== 'error' && status !== 'timeout');
    };
    const req = http.request(o.url, { method: 'GET', agent, headers: o.headers, timeout: o.timeoutMs }, (res) => {
      res.on('data', noop);
      res.once('end', () => settle(res.statusCode ?? 0));
      res.once('error', () => settle('error'));
    });
    req.once('timeout', () => {
      settle('timeout');
      req.destroy();
    });
    req.once('error', () => settle('error'));
    req.end();
  });
}

function noop(): void {}
