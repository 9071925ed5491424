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
import type { Compression, Protocol } from './exporter-config.js';
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
