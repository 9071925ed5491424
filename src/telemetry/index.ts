/**
 * Telemetry wiring for the main thread. Loads the OpenTelemetry SDK (otlp-logs.ts for the §7
 * events, otlp-metrics.ts for the §8 metrics) with dynamic imports, and only for the signals that
 * have an endpoint: an agent without telemetry never loads it.
 *
 * Export starts once the first load has settled, so the resource can name the artifact's identity
 * and environment and the first export carries the credentials from the secrets. Events before
 * that (failed start-up fetches) wait in a small bounded buffer; metrics are cumulative, so the
 * first export carries everything counted before it.
 */
import { settleWithin } from './settle.js';
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { EventFields, EventName, EventSeverity, Events } from './events.js';
import type { Family } from './cells.js';
import type { ResourceInfo } from './otlp-exporter.js';

/** Start-up events are few (three attempts); the bound only matters if something loops. */
const MAX_EARLY_EVENTS = 64;

export interface Telemetry {
  /**
   * The first load settled: start exporting with this identity/environment and these auth headers.
   * `metrics` are the agent's metric families (metrics.ts) and when counting began (the start of
   * every cumulative series); without them only events are exported.
   */
  start(
    identity: string | undefined,
    environment: string | undefined,
    authHeaders: Record<string, string>,
    metrics?: { readonly families: readonly Family[]; readonly startedAtMs: number },
  ): Promise<void>;
  /** Export what is queued (events, and the metrics as they are now), giving up after `deadlineMs`. */
  flush(deadlineMs: number): Promise<void>;
}

interface Flushable {
  flush(deadlineMs: number): Promise<void>;
}

export function setUpTelemetry(config: Config, version: string, events: Events, log: Logger): Telemetry | undefined {
  const t = config.telemetry;
  if (t === undefined) return undefined;
  const exportLogs = t.logsUrl !== undefined;
  // Collected until the exporter's sink replaces this one (events.attach below), including while
  // the SDK loads after start(): an event of that window (agent.stopped on a Lambda SHUTDOWN right
  // after init) was lost when collecting stopped at start().
  const early: [EventName, EventSeverity, EventFields, string][] = [];
  if (exportLogs)
    events.attach((...e) => {
      early.push(e);
      if (early.length > MAX_EARLY_EVENTS) early.shift();
    });
  const running: Flushable[] = [];
  const startExport = async (...[identity, environment, authHeaders, metrics]: Parameters<Telemetry['start']>): Promise<void> => {
    const resource: ResourceInfo = {
      version,
      agentId: config.agentId,
      identity: identity ?? config.expectIdentity,
      environment: environment ?? config.expectEnvironment,
      sourceType: config.source.kind,
    };
    if (exportLogs) {
      const { startLogExport } = await import('./otlp-logs.js');
      const logs = startLogExport(t, resource, log, () => authHeaders);
      for (const e of early.splice(0)) logs.sink(...e);
      events.attach(logs.sink);
      running.push(logs);
    }
    if (t.metricsUrl !== undefined && metrics !== undefined) {
      const { startMetricExport } = await import('./otlp-metrics.js');
      running.push(startMetricExport(t, resource, metrics.families, metrics.startedAtMs, log, () => authHeaders));
    }
  };
  let starting: Promise<void> | undefined;
  return {
    start(...args) {
      starting = startExport(...args);
      return starting;
    },
    async flush(deadlineMs) {
      // A stop right after the first load can come while the SDK is still loading: wait for it
      // (within the deadline), or what was counted until the stop is never sent.
      const begun = Date.now();
      if (starting !== undefined) await settleWithin(starting, deadlineMs);
      const left = Math.max(0, deadlineMs - (Date.now() - begun));
      await Promise.all(running.map((r) => r.flush(left)));
    },
  };
}

/**
 * After a failed start (serve or exec): the start-up's fetch.failed / artifact.invalid events are
 * what an operator needs, so telemetry starts without an identity and flushes within `budgetMs`.
 */
export async function flushFailedStart(telemetry: Telemetry | undefined, budgetMs: number): Promise<void> {
  await telemetry?.start(undefined, undefined, {}).then(
    () => telemetry.flush(budgetMs),
    () => undefined,
  );
}
