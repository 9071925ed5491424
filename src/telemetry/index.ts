/**
 * Telemetry wiring for the main thread. Loads the OpenTelemetry SDK (otlp-logs.ts) with a dynamic
 * import, and only when an endpoint is configured: an agent without telemetry never loads it.
 *
 * The exporter starts once the first load has settled, so the resource can name the artifact's
 * identity and environment and the first export carries the credentials from the secrets. Events
 * before that (failed start-up fetches) wait in a small bounded buffer.
 */
import type { Config } from '../config/types.js';
import type { Logger } from '../log.js';
import type { EventFields, EventName, EventSeverity, Events } from './events.js';
import type { LogExport } from './otlp-logs.js';

/** Start-up events are few (three attempts); the bound only matters if something loops. */
const MAX_EARLY_EVENTS = 64;

export interface Telemetry {
  /** The first load settled: start exporting with this identity/environment and these auth headers. */
  start(identity: string | undefined, environment: string | undefined, authHeaders: Record<string, string>): Promise<void>;
  /** Export what is queued, giving up after `deadlineMs`. */
  flush(deadlineMs: number): Promise<void>;
}

export function setUpTelemetry(config: Config, version: string, events: Events, log: Logger): Telemetry | undefined {
  const t = config.telemetry;
  if (t?.logsUrl === undefined) return undefined;
  const early: [EventName, EventSeverity, EventFields, string][] = [];
  events.attach((...e) => {
    early.push(e);
    if (early.length > MAX_EARLY_EVENTS) early.shift();
  });
  let exporting: LogExport | undefined;
  return {
    async start(identity, environment, authHeaders) {
      const { startLogExport } = await import('./otlp-logs.js');
      exporting = startLogExport(
        t,
        {
          version,
          agentId: config.agentId,
          identity: identity ?? config.expectIdentity,
          environment: environment ?? config.expectEnvironment,
          sourceType: config.source.kind,
        },
        log,
        () => authHeaders,
      );
      for (const e of early.splice(0)) exporting.sink(...e);
      events.attach(exporting.sink);
    },
    async flush(deadlineMs) {
      await exporting?.flush(deadlineMs);
    },
  };
}
