/**
 * OTLP export of the §8 metrics. The definitions are the ones `/metrics` serves (metrics.ts): a
 * MetricProducer reads the same families when the SDK's PeriodicExportingMetricReader collects,
 * so there is no second set of instruments to keep in step, and nothing extra on the hot path.
 * Imported dynamically, only when a metrics endpoint is configured.
 *
 * Names follow the OpenTelemetry ↔ Prometheus convention, so a Collector's Prometheus exporter
 * gives back the names `/metrics` shows: counters drop `_total` (a monotonic sum), a `_seconds` or
 * `_bytes` suffix becomes the unit (`s`, `By`). Counters and histograms are cumulative since the
 * agent started; a non-finite gauge value (the +Inf freshness limit of KMS-gated JIT) is left out,
 * since OTLP/JSON cannot carry it.
 */
import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { ExportResultCode, millisToHrTime } from '@opentelemetry/core';
import { JsonMetricsSerializer, MetricsExporterMetricsHelper, ProtobufMetricsSerializer } from '@opentelemetry/otlp-transformer';
import { emptyResource } from '@opentelemetry/resources';
import {
  AggregationTemporality,
  DataPointType,
  MeterProvider,
  PeriodicExportingMetricReader,
  type CollectionResult,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import type { Logger } from '../log.js';
import type { Family, Labels } from './cells.js';
import type { TelemetryConfig } from './exporter-config.js';
import { agentResource, exportOutcomeLog, otlpExporter, signalExport, type ResourceInfo } from './otlp-exporter.js';
import { settleWithin } from './settle.js';

export interface MetricExport {
  /** Collect and export now; resolves when done or after `deadlineMs`. */
  flush(deadlineMs: number): Promise<void>;
}

/** The OTLP name and unit of a family (see the file comment). */
export function otlpNameAndUnit(f: Pick<Family, 'name' | 'type'>): { name: string; unit: string } {
  let name = f.name;
  if (f.type === 'counter' && name.endsWith('_total')) name = name.slice(0, -'_total'.length);
  for (const [suffix, unit] of [
    ['_seconds', 's'],
    ['_bytes', 'By'],
  ] as const) {
    if (name.endsWith(suffix)) return { name: name.slice(0, -suffix.length), unit };
  }
  return { name, unit: name.includes('_seconds_') ? 's' : '1' };
}

/** The families as OTLP metric data, read at collection time. */
export class FamilyProducer implements MetricProducer {
  private readonly start: HrTime;

  constructor(
    private readonly families: readonly Family[],
    startedAtMs: number,
    private readonly scope: { readonly name: string; readonly version: string },
  ) {
    this.start = millisToHrTime(startedAtMs);
  }

  collect(): Promise<CollectionResult> {
    const end = millisToHrTime(Date.now());
    const metrics: MetricData[] = [];
    for (const f of this.families) {
      const m = this.metric(f, end);
      if (m !== undefined) metrics.push(m);
    }
    // The reader replaces this resource with the MeterProvider's (the agent's).
    return Promise.resolve({ resourceMetrics: { resource: emptyResource(), scopeMetrics: [{ scope: this.scope, metrics }] }, errors: [] });
  }

  private metric(f: Family, end: HrTime): MetricData | undefined {
    const { name, unit } = otlpNameAndUnit(f);
    const descriptor = { name, description: f.help, unit, valueType: ValueType.DOUBLE };
    const data = f.points();
    const time = { startTime: this.start, endTime: end };
    if (data.type === 'histogram') {
      if (data.points.length === 0) return undefined;
      return {
        descriptor,
        aggregationTemporality: AggregationTemporality.CUMULATIVE,
        dataPointType: DataPointType.HISTOGRAM,
        dataPoints: data.points.map((p) => ({
          ...time,
          attributes: attributes(p.labels),
          value: { buckets: { boundaries: [...data.bounds], counts: [...p.counts] }, sum: p.sum, count: p.count },
        })),
      };
    }
    const points = data.points.filter((p) => Number.isFinite(p.value)).map((p) => ({ ...time, attributes: attributes(p.labels), value: p.value }));
    if (points.length === 0) return undefined;
    if (data.type === 'counter') {
      return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: points };
    }
    return { descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: points };
  }
}

function attributes(labels: Labels): Attributes {
  return { ...labels };
}

export function startMetricExport(
  config: TelemetryConfig,
  resource: ResourceInfo,
  families: readonly Family[],
  startedAtMs: number,
  log: Logger,
  authHeaders: () => Record<string, string>,
): MetricExport {
  const exporter = otlpExporter(
    signalExport(config, 'metrics', authHeaders),
    { protobuf: ProtobufMetricsSerializer, json: JsonMetricsSerializer },
    'otlp_http_metric_exporter',
    MetricsExporterMetricsHelper,
  );
  const outcome = exportOutcomeLog(log, 'metrics', 'metrics export failed; the next export sends the cumulative values again', 'metrics export succeeds again');
  const reader = new PeriodicExportingMetricReader({
    exporter: {
      export: (metrics, done) =>
        exporter.export(metrics, (result) => {
          outcome(result.code === ExportResultCode.SUCCESS);
          done(result);
        }),
      forceFlush: () => exporter.forceFlush(),
      shutdown: () => exporter.shutdown(),
      selectAggregationTemporality: () => AggregationTemporality.CUMULATIVE,
    },
    exportIntervalMillis: config.metricsIntervalMs,
    // The reader refuses a timeout longer than its interval.
    exportTimeoutMillis: Math.min(config.metricsTimeoutMs, config.metricsIntervalMs),
    metricProducers: [new FamilyProducer(families, startedAtMs, { name: 'clef-agent', version: resource.version })],
  });
  // No instruments of its own: the provider only gives the reader the agent's resource.
  const provider = new MeterProvider({ resource: agentResource(resource), readers: [reader] });
  return {
    flush: (deadlineMs: number) => settleWithin(provider.forceFlush(), deadlineMs),
  };
}
