/**
 * A local OTLP/HTTP collector: accepts `POST /v1/logs` and `/v1/metrics` (log records and metrics
 * both decoded), keeps every request's bytes exactly as received (so a test can scan them for secrets) and decodes OTLP/JSON
 * (`application/json`) and OTLP/protobuf (`application/x-protobuf`), gzip or not, through the
 * OTLP schema that @opentelemetry/otlp-transformer shipped as generated protobufjs code (a
 * devDependency under the alias `otlp-proto-schema`): JSON goes through the schema's `fromObject`,
 * so a field the schema does not know is not read. On demand it answers a scripted status
 * (400/429/500/503, with Retry-After), hangs, drops the connection, or is slow.
 */
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { LocalServer } from './local-server.js';

/** The protobufjs static-code surface of one message type. */
interface MessageType {
  decode(bytes: Uint8Array): object;
  fromObject(o: unknown): object;
  toObject(m: object, opts: object): unknown;
}

const schema = createRequire(import.meta.url)('otlp-proto-schema/build/src/generated/root.js') as {
  opentelemetry: {
    proto: { collector: { logs: { v1: { ExportLogsServiceRequest: MessageType } }; metrics: { v1: { ExportMetricsServiceRequest: MessageType } } } };
  };
};
const LogsRequest = schema.opentelemetry.proto.collector.logs.v1.ExportLogsServiceRequest;
const MetricsRequest = schema.opentelemetry.proto.collector.metrics.v1.ExportMetricsServiceRequest;
/** The OTLP/JSON mapping's conventions: 64-bit integers as strings, enums as numbers. */
const AS_OBJECT = { longs: String, enums: Number, bytes: String, defaults: false, arrays: true };

/** An OTLP logs request body (JSON or protobuf) decoded through the schema. */
export function decodeLogsRequest(contentType: string, body: Buffer): OtlpLogsRequest {
  const message = contentType.startsWith('application/x-protobuf') ? LogsRequest.decode(body) : LogsRequest.fromObject(JSON.parse(body.toString('utf8')));
  return LogsRequest.toObject(message, AS_OBJECT) as OtlpLogsRequest;
}

/** An OTLP metrics request body (JSON or protobuf) decoded through the schema. */
export function decodeMetricsRequest(contentType: string, body: Buffer): OtlpMetricsRequest {
  const message = contentType.startsWith('application/x-protobuf') ? MetricsRequest.decode(body) : MetricsRequest.fromObject(JSON.parse(body.toString('utf8')));
  return MetricsRequest.toObject(message, AS_OBJECT) as OtlpMetricsRequest;
}

/** What the collector does with the next request(s). */
export type CollectorBehaviour =
  | { readonly kind: 'accept' }
  /** Answer `status` (with `Retry-After: retryAfter` when given) `times` times, then accept. */
  | { readonly kind: 'status'; readonly status: number; readonly retryAfter?: string | undefined; times: number }
  /** Read the request, never answer. */
  | { readonly kind: 'hang' }
  /** Answer 200 after `delayMs`. */
  | { readonly kind: 'slow'; readonly delayMs: number }
  /** Read the request, then drop the connection without an answer. */
  | { readonly kind: 'reset' };

/** One request as received. */
export interface CollectorRequest {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  /** The body exactly as it came over the wire (compressed if it was). */
  readonly raw: Buffer;
  /** The body after Content-Encoding was undone. */
  readonly body: Buffer;
  /** The status the collector answered (undefined: it hung). */
  status: number | undefined;
}

/** The OTLP/JSON logs shapes this collector reads (opentelemetry-proto's JSON mapping). */
export interface OtlpAnyValue {
  readonly stringValue?: string;
  readonly intValue?: string | number;
  readonly boolValue?: boolean;
  readonly doubleValue?: number;
}
export interface OtlpKeyValue {
  readonly key: string;
  readonly value: OtlpAnyValue;
}
export interface OtlpLogRecord {
  readonly timeUnixNano?: string;
  readonly severityNumber?: number;
  readonly severityText?: string;
  readonly eventName?: string;
  readonly body?: OtlpAnyValue;
  readonly attributes?: readonly OtlpKeyValue[];
}
export interface OtlpLogsRequest {
  readonly resourceLogs: readonly {
    readonly resource?: { readonly attributes?: readonly OtlpKeyValue[] };
    readonly scopeLogs: readonly { readonly scope?: { readonly name?: string }; readonly logRecords?: readonly OtlpLogRecord[] }[];
  }[];
}

/** The OTLP metrics shapes this collector reads (opentelemetry-proto's JSON mapping). */
export interface OtlpNumberPoint {
  readonly attributes?: readonly OtlpKeyValue[];
  readonly startTimeUnixNano?: string;
  readonly timeUnixNano?: string;
  readonly asDouble?: number;
  readonly asInt?: string | number;
}
export interface OtlpHistogramPoint {
  readonly attributes?: readonly OtlpKeyValue[];
  readonly startTimeUnixNano?: string;
  readonly timeUnixNano?: string;
  readonly count?: string | number;
  readonly sum?: number;
  readonly bucketCounts?: readonly (string | number)[];
  readonly explicitBounds?: readonly number[];
}
export interface OtlpMetric {
  readonly name: string;
  readonly description?: string;
  readonly unit?: string;
  readonly sum?: { readonly dataPoints?: readonly OtlpNumberPoint[]; readonly aggregationTemporality?: number; readonly isMonotonic?: boolean };
  readonly gauge?: { readonly dataPoints?: readonly OtlpNumberPoint[] };
  readonly histogram?: { readonly dataPoints?: readonly OtlpHistogramPoint[]; readonly aggregationTemporality?: number };
}
export interface OtlpMetricsRequest {
  readonly resourceMetrics: readonly {
    readonly resource?: { readonly attributes?: readonly OtlpKeyValue[] };
    readonly scopeMetrics: readonly { readonly scope?: { readonly name?: string; readonly version?: string }; readonly metrics?: readonly OtlpMetric[] }[];
  }[];
}

/** One received data point, flattened: a number, or a histogram with per-bucket counts. */
export interface ReceivedPoint {
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  readonly value?: number;
  readonly histogram?: { readonly count: number; readonly sum: number; readonly bounds: readonly number[]; readonly counts: readonly number[] };
  readonly startTimeUnixNano: string | undefined;
  readonly timeUnixNano: string | undefined;
}

/** One metric as received, with its resource. */
export interface ReceivedMetric {
  readonly resource: Readonly<Record<string, string | number | boolean>>;
  readonly scope: string | undefined;
  readonly name: string;
  readonly unit: string | undefined;
  readonly description: string | undefined;
  readonly type: 'sum' | 'gauge' | 'histogram';
  /** OTLP AggregationTemporality: 1 delta, 2 cumulative (gauges: undefined). */
  readonly temporality: number | undefined;
  readonly isMonotonic: boolean | undefined;
  readonly points: readonly ReceivedPoint[];
  /** Index of the request it came in. */
  readonly request: number;
}

/** A decoded record with its resource, attributes flattened to plain values. */
export interface ReceivedRecord {
  readonly resource: Readonly<Record<string, string | number | boolean>>;
  readonly eventName: string | undefined;
  readonly severityNumber: number | undefined;
  readonly severityText: string | undefined;
  readonly body: string | number | boolean | undefined;
  readonly attributes: Readonly<Record<string, string | number | boolean>>;
  /** Index of the request it came in. */
  readonly request: number;
}

export function plainValue(v: OtlpAnyValue | undefined): string | number | boolean | undefined {
  if (v === undefined) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.boolValue !== undefined) return v.boolValue;
  return v.doubleValue;
}

function flatten(kvs: readonly OtlpKeyValue[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const kv of kvs ?? []) {
    const v = plainValue(kv.value);
    if (v !== undefined) out[kv.key] = v;
  }
  return out;
}

export class OtlpCollector extends LocalServer {
  behaviour: CollectorBehaviour = { kind: 'accept' };
  readonly requests: CollectorRequest[] = [];

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks);
    const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
    const entry: CollectorRequest = { path: req.url ?? '', headers: req.headers, raw, body, status: undefined };
    this.requests.push(entry);
    if (req.method !== 'POST' || (entry.path !== '/v1/logs' && entry.path !== '/v1/metrics')) return this.answer(res, entry, 404);
    const b = this.behaviour;
    switch (b.kind) {
      case 'hang':
        return;
      case 'reset':
        req.socket.destroy();
        return;
      case 'slow':
        await new Promise((r) => setTimeout(r, b.delayMs));
        return this.answer(res, entry, 200);
      case 'status':
        if (b.times > 0) {
          b.times--;
          return this.answer(res, entry, b.status, b.retryAfter === undefined ? {} : { 'Retry-After': b.retryAfter });
        }
        return this.answer(res, entry, 200);
      case 'accept':
        return this.answer(res, entry, 200);
    }
  }

  private answer(res: ServerResponse, entry: CollectorRequest, status: number, headers: Record<string, string> = {}): void {
    entry.status = status;
    // A success answers in the request's encoding: an empty ExportServiceResponse.
    const protobuf = String(entry.headers['content-type']).startsWith('application/x-protobuf');
    if (status === 200 && protobuf) {
      res.writeHead(status, { 'Content-Type': 'application/x-protobuf', ...headers });
      res.end();
      return;
    }
    res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    res.end(status === 200 ? '{}' : '{"code":14,"message":"emulated failure"}');
  }

  /** `POST /v1/metrics` requests, decoded. */
  metricRequests(): { readonly index: number; readonly request: CollectorRequest; readonly decoded: OtlpMetricsRequest }[] {
    return this.requests.flatMap((request, index) =>
      request.path === '/v1/metrics' ? [{ index, request, decoded: decodeMetricsRequest(String(request.headers['content-type']), request.body) }] : [],
    );
  }

  /** Every metric of the metrics requests the collector accepted (200), in order of arrival. */
  metrics(): ReceivedMetric[] {
    const out: ReceivedMetric[] = [];
    for (const { index, request, decoded } of this.metricRequests()) {
      if (request.status !== 200) continue;
      for (const rm of decoded.resourceMetrics) {
        const resource = flatten(rm.resource?.attributes);
        for (const sm of rm.scopeMetrics) {
          for (const m of sm.metrics ?? []) {
            const base = { resource, scope: sm.scope?.name, name: m.name, unit: m.unit, description: m.description, request: index };
            const numbers = (ps: readonly OtlpNumberPoint[] | undefined): ReceivedPoint[] =>
              (ps ?? []).map((p) => ({
                attributes: flatten(p.attributes),
                value: p.asDouble ?? (p.asInt === undefined ? undefined : Number(p.asInt)),
                startTimeUnixNano: p.startTimeUnixNano,
                timeUnixNano: p.timeUnixNano,
              }));
            if (m.sum !== undefined) {
              out.push({ ...base, type: 'sum', temporality: m.sum.aggregationTemporality, isMonotonic: m.sum.isMonotonic, points: numbers(m.sum.dataPoints) });
            } else if (m.gauge !== undefined) {
              out.push({ ...base, type: 'gauge', temporality: undefined, isMonotonic: undefined, points: numbers(m.gauge.dataPoints) });
            } else if (m.histogram !== undefined) {
              out.push({
                ...base,
                type: 'histogram',
                temporality: m.histogram.aggregationTemporality,
                isMonotonic: undefined,
                points: (m.histogram.dataPoints ?? []).map((p) => ({
                  attributes: flatten(p.attributes),
                  histogram: {
                    count: Number(p.count ?? 0),
                    sum: p.sum ?? 0,
                    bounds: p.explicitBounds ?? [],
                    counts: (p.bucketCounts ?? []).map(Number),
                  },
                  startTimeUnixNano: p.startTimeUnixNano,
                  timeUnixNano: p.timeUnixNano,
                })),
              });
            }
          }
        }
      }
    }
    return out;
  }

  /** `POST /v1/logs` requests, decoded. */
  logRequests(): { readonly index: number; readonly request: CollectorRequest; readonly decoded: OtlpLogsRequest }[] {
    return this.requests.flatMap((request, index) =>
      request.path === '/v1/logs' ? [{ index, request, decoded: decodeLogsRequest(String(request.headers['content-type']), request.body) }] : [],
    );
  }

  /** Every log record of the requests the collector accepted (200), in order of arrival. */
  records(): ReceivedRecord[] {
    const out: ReceivedRecord[] = [];
    for (const { index, request, decoded } of this.logRequests()) {
      if (request.status !== 200) continue;
      for (const rl of decoded.resourceLogs) {
        const resource = flatten(rl.resource?.attributes);
        for (const sl of rl.scopeLogs) {
          for (const r of sl.logRecords ?? []) {
            out.push({
              resource,
              eventName: r.eventName,
              severityNumber: r.severityNumber,
              severityText: r.severityText,
              body: plainValue(r.body),
              attributes: flatten(r.attributes),
              request: index,
            });
          }
        }
      }
    }
    return out;
  }
}
