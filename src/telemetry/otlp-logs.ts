/**
 * OTLP/HTTP export of the §7 events as log records, through the OpenTelemetry JS SDK. Imported
 * dynamically and only when an endpoint is configured (src/telemetry/index.ts), so an agent
 * without telemetry never loads the SDK.
 *
 * The SDK's own BatchLogRecordProcessor drops the *newest* record when its queue is full; SPEC §7
 * wants the oldest dropped, so batching is done here. The exporter is the SDK's serializer and
 * export pipeline over our transport (otlp-exporter.ts): retries only on 429/502/503/504,
 * honouring Retry-After, all within one export timeout — so one export never outlives `timeoutMs`.
 */
import { SeverityNumber } from '@opentelemetry/api-logs';
import { ExportResultCode } from '@opentelemetry/core';
import { JsonLogsSerializer, LogsExporterMetricsHelper, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { LoggerProvider, type LogRecordExporter, type LogRecordProcessor, type ReadWriteLogRecord } from '@opentelemetry/sdk-logs';
import type { Logger as PinoLogger } from '../log.js';
import type { EventFields, EventName, EventSeverity, EventSink } from './events.js';
import type { TelemetryConfig } from './exporter-config.js';
import { agentResource, exportOutcomeLog, otlpExporter, signalExport, type ResourceInfo } from './otlp-exporter.js';
import { settleWithin } from './settle.js';

/** Records kept while the collector is slow or down; past it the oldest go. */
export const MAX_QUEUED_RECORDS = 2048;
const MAX_BATCH = 512;
const BATCH_DELAY_MS = 1000;

const SEVERITY: Readonly<Record<EventSeverity, { number: SeverityNumber; text: string }>> = {
  info: { number: SeverityNumber.INFO, text: 'INFO' },
  warn: { number: SeverityNumber.WARN, text: 'WARN' },
  error: { number: SeverityNumber.ERROR, text: 'ERROR' },
};

/** Log fields whose OpenTelemetry semantic-convention name differs; the rest become `clef.<snake_case>`. */
const SEMCONV: Readonly<Record<string, string>> = {
  code: 'error.type',
  status: 'http.response.status_code',
  signal: 'process.signal',
  version: 'service.version',
};

export function attributeName(field: string): string {
  return SEMCONV[field] ?? `clef.${field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)}`;
}

export interface BatchLimits {
  readonly maxQueue: number;
  readonly maxBatch: number;
  readonly delayMs: number;
}

const LIMITS: BatchLimits = { maxQueue: MAX_QUEUED_RECORDS, maxBatch: MAX_BATCH, delayMs: BATCH_DELAY_MS };

/**
 * Batches records with one export in flight at a time. At most `maxQueue` records wait besides the
 * batch being exported, so memory stays bounded however long the collector hangs; past that the
 * oldest are dropped.
 */
export class DropOldestBatcher implements LogRecordProcessor {
  private queue: ReadWriteLogRecord[] = [];
  private exporting: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  dropped = 0;
  failed = 0;

  constructor(
    private readonly exporter: LogRecordExporter,
    private readonly onResult: (ok: boolean) => void,
    private readonly limits: BatchLimits = LIMITS,
  ) {}

  get queued(): number {
    return this.queue.length;
  }

  onEmit(record: ReadWriteLogRecord): void {
    this.queue.push(record);
    if (this.queue.length > this.limits.maxQueue) {
      this.queue.shift();
      this.dropped++;
    }
    if (this.queue.length >= this.limits.maxBatch) this.kick();
    else this.timer ??= setTimeout(() => this.kick(), this.limits.delayMs).unref();
  }

  private kick(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.exporting !== undefined || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.limits.maxBatch);
    this.exporting = new Promise<void>((resolve) => {
      this.exporter.export(batch, (result) => {
        const ok = result.code === ExportResultCode.SUCCESS;
        if (!ok) this.failed += batch.length;
        this.onResult(ok);
        resolve();
      });
    }).finally(() => {
      this.exporting = undefined;
      if (this.queue.length > 0) this.timer ??= setTimeout(() => this.kick(), 0).unref();
    });
  }

  async forceFlush(): Promise<void> {
    while (this.queue.length > 0 || this.exporting !== undefined) {
      if (this.exporting === undefined) this.kick();
      await this.exporting;
    }
  }

  async shutdown(): Promise<void> {
    await this.forceFlush();
    clearTimeout(this.timer);
    await this.exporter.shutdown();
  }
}

export interface LogExport {
  readonly sink: EventSink;
  /** Export what is queued; resolves when done or after `deadlineMs`, whichever comes first. */
  flush(deadlineMs: number): Promise<void>;
  /** Records dropped because the queue was full. */
  readonly dropped: () => number;
}

export function startLogExport(config: TelemetryConfig, resource: ResourceInfo, log: PinoLogger, authHeaders: () => Record<string, string>): LogExport {
  const exporter = otlpExporter(
    signalExport(config, 'logs', authHeaders),
    { protobuf: ProtobufLogsSerializer, json: JsonLogsSerializer },
    'otlp_http_log_exporter',
    LogsExporterMetricsHelper,
  );
  const batcher = new DropOldestBatcher(
    exporter,
    exportOutcomeLog(
      log,
      'logs',
      'log record export failed; that batch is dropped, later events wait for the next attempt (oldest dropped when the queue is full)',
      'log record export succeeds again',
    ),
  );
  const provider = new LoggerProvider({ resource: agentResource(resource), processors: [batcher] });
  const otel = provider.getLogger('clef-agent', resource.version);

  const sink: EventSink = (name: EventName, severity: EventSeverity, fields: EventFields, message: string) => {
    const attrs: Record<string, string | number | boolean> = {};
    for (const [k, v] of Object.entries(fields)) if (v !== undefined && v !== null) attrs[attributeName(k)] = v;
    const s = SEVERITY[severity];
    otel.emit({ eventName: name, severityNumber: s.number, severityText: s.text, body: message, attributes: attrs });
  };

  return {
    sink,
    dropped: () => batcher.dropped,
    flush: (deadlineMs: number) => settleWithin(provider.forceFlush(), deadlineMs),
  };
}
