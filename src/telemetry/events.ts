/**
 * The operational events of SPEC §7. Each is emitted by one call that writes one pino line and,
 * when telemetry is configured, hands one record with the same fields to the OTLP exporter — so
 * the logs and the telemetry cannot disagree. This module is loaded always, so it imports nothing
 * of the OpenTelemetry SDK: the exporter registers itself here once it has been loaded.
 */
import type { Logger } from '../log.js';

export type EventSeverity = 'info' | 'warn' | 'error';

/** Event names and severities, fixed by SPEC §7. */
export const EVENTS = {
  'agent.started': 'info',
  'agent.stopped': 'info',
  'artifact.refreshed': 'info',
  'artifact.revoked': 'warn',
  'artifact.expired': 'warn',
  'artifact.invalid': 'error',
  'fetch.failed': 'warn',
  'cache.expired': 'error',
} as const satisfies Record<string, EventSeverity>;

export type EventName = keyof typeof EVENTS;

/** Field values an event may carry: plain scalars, so both the log line and OTLP attributes hold them as they are. */
export type EventFields = Readonly<Record<string, string | number | boolean | null | undefined>>;

/** Receives every event after its log line (the OTLP exporter). Must not throw or block. */
export type EventSink = (name: EventName, severity: EventSeverity, fields: EventFields, message: string) => void;

/**
 * Emits events. One per process; the exporter attaches to it only when telemetry is configured,
 * so without telemetry an event costs exactly its log line.
 */
export class Events {
  private sink: EventSink | undefined;
  /** In-process observers (exec mode's supervisor): told after the log line and the exporter. */
  private readonly observers = new Set<EventSink>();

  constructor(private readonly log: Logger) {}

  attach(sink: EventSink | undefined): void {
    this.sink = sink;
  }

  /**
   * Observe every event from now on, without the emitting code knowing who listens (the refresher
   * stays unaware of exec mode). Returns the function that stops observing. An observer must not
   * throw or block: like the exporter, it is told synchronously inside the refresh.
   */
  observe(observer: EventSink): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  emit(name: EventName, fields: EventFields, message: string): void {
    const severity = EVENTS[name];
    this.log[severity]({ event: name, ...fields }, message);
    const sink = this.sink;
    if (sink !== undefined) tell(sink, name, severity, fields, message);
    for (const o of this.observers) tell(o, name, severity, fields, message);
  }
}

function tell(sink: EventSink, name: EventName, severity: EventSeverity, fields: EventFields, message: string): void {
  try {
    sink(name, severity, fields, message);
  } catch {
    // Telemetry and observers must never fail the caller (a refresh, a request); the log line is written.
  }
}
