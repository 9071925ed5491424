/**
 * What the OTLP log and metric exports share: the resource attributes of SPEC §7, and an exporter
 * built from the OpenTelemetry SDK's pieces — its serializers (protobuf or JSON, as configured)
 * and export pipeline — over our transport (otlp-transport.ts, for the retry rule).
 */
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { createOtlpHttpExporterMetrics } from '@opentelemetry/otlp-exporter-base/node-http';
import { createOtlpNetworkExportDelegate } from '@opentelemetry/otlp-exporter-base';
import type { IExporterMetricsHelper, ISerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import type { Logger } from '../log.js';
import type { Compression, Protocol, TelemetryConfig } from './exporter-config.js';
import { otlpHttpTransport } from './otlp-transport.js';

/** The resource of SPEC §7; an unknown identity or environment is left out rather than guessed. */
export interface ResourceInfo {
  readonly version: string;
  readonly agentId: string;
  readonly identity: string | undefined;
  readonly environment: string | undefined;
  readonly sourceType: string;
}

export function agentResource(info: ResourceInfo): Resource {
  const attributes: Record<string, string> = {
    'service.name': 'clef-agent',
    'service.version': info.version,
    'service.instance.id': info.agentId,
    'clef.source.type': info.sourceType,
  };
  if (info.identity !== undefined) attributes['clef.identity'] = info.identity;
  if (info.environment !== undefined) attributes['clef.environment'] = info.environment;
  return resourceFromAttributes(attributes);
}

export interface SignalExport {
  readonly url: string;
  readonly protocol: Protocol;
  readonly compression: Compression;
  readonly timeoutMs: number;
  readonly headers: () => Readonly<Record<string, string>>;
}

export type Signal = 'logs' | 'metrics';

/**
 * One signal's settings from the resolved configuration. Headers are read per export: the
 * credentials from the first load (`authHeaders`) arrive after the exporter is built, and win.
 */
export function signalExport(config: TelemetryConfig, signal: Signal, authHeaders: () => Record<string, string>): SignalExport {
  const logs = signal === 'logs';
  const url = logs ? config.logsUrl : config.metricsUrl;
  if (url === undefined) throw new Error(`no ${signal} endpoint configured`);
  const configured = logs ? config.logsHeaders : config.metricsHeaders;
  return {
    url,
    protocol: logs ? config.logsProtocol : config.metricsProtocol,
    compression: logs ? config.logsCompression : config.metricsCompression,
    timeoutMs: logs ? config.logsTimeoutMs : config.metricsTimeoutMs,
    headers: () => ({ ...configured, ...authHeaders() }),
  };
}

/**
 * Logs an export failing or recovering, once per change and never with the error itself: a
 * collector's answer may echo the auth headers.
 */
export function exportOutcomeLog(log: Logger, signal: Signal, failed: string, recovered: string): (ok: boolean) => void {
  let failing = false;
  return (ok) => {
    if (ok === !failing) return;
    failing = !ok;
    if (failing) log.warn({ event: 'telemetry.export_failed', signal }, failed);
    else log.info({ event: 'telemetry.export_recovered', signal }, recovered);
  };
}

/**
 * An exporter for one signal. One export in flight at a time (`concurrencyLimit: 1`): a slow
 * collector holds one batch, never a growing pile of them.
 */
export function otlpExporter<Internal>(
  signal: SignalExport,
  serializers: { readonly protobuf: ISerializer<Internal, unknown>; readonly json: ISerializer<Internal, unknown> },
  componentType: string,
  helper: IExporterMetricsHelper<Internal>,
): OTLPExporterBase<Internal> {
  const protobuf = signal.protocol === 'http/protobuf';
  const transport = otlpHttpTransport({
    url: signal.url,
    contentType: protobuf ? 'application/x-protobuf' : 'application/json',
    headers: signal.headers,
    compression: signal.compression,
  });
  const delegate = createOtlpNetworkExportDelegate(
    // Compression is the transport's; the pipeline only needs the bounds.
    { timeoutMillis: signal.timeoutMs, concurrencyLimit: 1, compression: 'none' },
    protobuf ? serializers.protobuf : serializers.json,
    // The SDK's self-observability metrics go to the global meter provider, which is a no-op here.
    createOtlpHttpExporterMetrics(componentType, helper, signal.url, undefined),
    transport,
  );
  return new OTLPExporterBase(delegate);
}
