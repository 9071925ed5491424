/**
 * Where and how telemetry is exported (SPEC §7): CLEF_AGENT_TELEMETRY_URL and the standard
 * `OTEL_EXPORTER_OTLP_*` variables, resolved and validated at start-up so a bad value refuses the
 * start instead of surfacing as a silent export failure later. The SDK is then given every value
 * explicitly; it never decides from the environment on its own.
 *
 * Header values are credentials: no message here ever includes one.
 */
import { ALLOW_HTTP_VARIABLE } from '../../common/aws-endpoints.js';
import { maskUrl, quote } from '../../common/display.js';
import { isPlainRemoteHttp } from '../../common/net.js';
import type { Issues as AllIssues } from '../config/errors.js';
import { hasControlChar } from '../config/parse.js';

export const OTLP_ENDPOINT = 'OTEL_EXPORTER_OTLP_ENDPOINT';
export const OTLP_LOGS_ENDPOINT = 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT';
export const OTLP_METRICS_ENDPOINT = 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT';
export const TELEMETRY_URL = 'CLEF_AGENT_TELEMETRY_URL';

/** OTel's default export timeout; also the most one export may take (retries included). */
export const DEFAULT_EXPORT_TIMEOUT_MS = 10_000;
/** Kept under the stop deadline so a flush on SIGTERM can finish before the process must exit. */
export const MAX_EXPORT_TIMEOUT_MS = 10_000;

export type Compression = 'gzip' | 'none';
/** OTLP/HTTP encodings; `http/protobuf` is OpenTelemetry's default. gRPC is not offered. */
export type Protocol = 'http/protobuf' | 'http/json';

export const METRIC_INTERVAL = 'OTEL_METRIC_EXPORT_INTERVAL';
/** OpenTelemetry's default metric export interval. */
export const DEFAULT_METRIC_INTERVAL_MS = 60_000;
const MIN_METRIC_INTERVAL_MS = 100;
const MAX_METRIC_INTERVAL_MS = 24 * 3600_000;

export interface TelemetryConfig {
  /** Where log records (the §7 events) go; undefined: only metrics are configured. */
  readonly logsUrl: string | undefined;
  /** Where OTLP metrics go (used by the metrics bridge). */
  readonly metricsUrl: string | undefined;
  /** From OTEL_EXPORTER_OTLP_HEADERS and the per-signal variant (the latter wins per name). */
  readonly logsHeaders: Readonly<Record<string, string>>;
  readonly metricsHeaders: Readonly<Record<string, string>>;
  readonly logsTimeoutMs: number;
  readonly metricsTimeoutMs: number;
  readonly logsCompression: Compression;
  readonly metricsCompression: Compression;
  readonly logsProtocol: Protocol;
  readonly metricsProtocol: Protocol;
  /** How often the metrics are exported (OTEL_METRIC_EXPORT_INTERVAL). */
  readonly metricsIntervalMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;
type Issues = Pick<AllIssues, 'add'>;

const URL_EXPECTED = `an http(s):// URL; plain http only to a loopback host (127.0.0.0/8, ::1, localhost) or with ${ALLOW_HTTP_VARIABLE}=true`;
const HEADERS_EXPECTED = 'comma-separated name=value pairs (W3C baggage format; values may be percent-encoded), names being HTTP tokens';
/** RFC 9110 token characters. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function present(env: Env, name: string): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** The URL of `name`, checked for scheme, host and the plain-http rule; undefined after an issue. */
function endpoint(issues: Issues, name: string, raw: string, allowHttp: boolean | undefined, append?: string): URL | undefined {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not echoed: an unparsable value cannot be masked and may hold credentials.
    issues.add(name, 'is not a valid URL', URL_EXPECTED);
    return undefined;
  }
  const shown = quote(maskUrl(url), 120);
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    issues.add(name, `uses the unsupported scheme ${quote(url.protocol)}`, URL_EXPECTED);
    return undefined;
  }
  if (url.hostname === '') {
    issues.add(name, `${shown} has no host`, URL_EXPECTED);
    return undefined;
  }
  if (allowHttp === false && isPlainRemoteHttp(url)) {
    issues.add(name, `${shown} uses plain http to a non-loopback host, which would carry the telemetry auth headers unencrypted`, URL_EXPECTED);
    return undefined;
  }
  if (append === undefined) return url;
  // OTel rule: the shared endpoint is a base, each signal appends its own path.
  const base = url.href.endsWith('/') ? url.href : `${url.href}/`;
  return new URL(append, base);
}

/** Parse `name=value,…`; values are percent-decoded. Problems name the pair's position, never its value. */
export function parseHeaderList(issues: Issues | undefined, name: string, raw: string): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const pairs = raw.split(',');
  for (let i = 0; i < pairs.length; i++) {
    const pair = (pairs[i] ?? '').trim();
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq).trim();
    if (eq <= 0 || !TOKEN.test(key)) {
      issues?.add(name, `pair ${i + 1} has no valid header name before "="`, HEADERS_EXPECTED);
      return undefined;
    }
    let value: string;
    try {
      value = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      issues?.add(name, `the value of ${quote(key)} is not valid percent-encoding`, HEADERS_EXPECTED);
      return undefined;
    }
    if (hasControlChar(value)) {
      issues?.add(name, `the value of ${quote(key)} contains control characters`, HEADERS_EXPECTED);
      return undefined;
    }
    out[key.toLowerCase()] = value;
  }
  return out;
}

function timeout(issues: Issues, env: Env, signal: 'LOGS' | 'METRICS'): number {
  for (const name of [`OTEL_EXPORTER_OTLP_${signal}_TIMEOUT`, 'OTEL_EXPORTER_OTLP_TIMEOUT']) {
    const raw = present(env, name);
    if (raw === undefined) continue;
    const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
    if (!(n >= 1 && n <= MAX_EXPORT_TIMEOUT_MS)) {
      issues.add(name, `${quote(raw.slice(0, 20))} is not a whole number of milliseconds in range`, `an integer from 1 to ${MAX_EXPORT_TIMEOUT_MS}`);
      return DEFAULT_EXPORT_TIMEOUT_MS;
    }
    return n;
  }
  return DEFAULT_EXPORT_TIMEOUT_MS;
}

function compression(issues: Issues, env: Env, signal: 'LOGS' | 'METRICS'): Compression {
  for (const name of [`OTEL_EXPORTER_OTLP_${signal}_COMPRESSION`, 'OTEL_EXPORTER_OTLP_COMPRESSION']) {
    const raw = present(env, name);
    if (raw === undefined) continue;
    if (raw === 'gzip' || raw === 'none') return raw;
    issues.add(name, `${quote(raw.slice(0, 20))} is not a supported compression`, '"gzip" or "none"');
    return 'none';
  }
  return 'none';
}

function protocol(issues: Issues, env: Env, signal: 'LOGS' | 'METRICS'): Protocol {
  for (const name of [`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`, 'OTEL_EXPORTER_OTLP_PROTOCOL']) {
    const raw = present(env, name);
    if (raw === undefined) continue;
    if (raw === 'http/protobuf' || raw === 'http/json') return raw;
    const why = raw === 'grpc' ? 'is not supported: this agent exports over OTLP/HTTP only' : `${quote(raw.slice(0, 20))} is not a supported protocol`;
    issues.add(name, why, '"http/protobuf" (the default) or "http/json"');
    return 'http/protobuf';
  }
  return 'http/protobuf';
}

function metricInterval(issues: Issues, env: Env): number {
  const raw = present(env, METRIC_INTERVAL);
  if (raw === undefined) return DEFAULT_METRIC_INTERVAL_MS;
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (n >= MIN_METRIC_INTERVAL_MS && n <= MAX_METRIC_INTERVAL_MS) return n;
  issues.add(
    METRIC_INTERVAL,
    `${quote(raw.slice(0, 20))} is not a whole number of milliseconds in range`,
    `an integer from ${MIN_METRIC_INTERVAL_MS} to ${MAX_METRIC_INTERVAL_MS}`,
  );
  return DEFAULT_METRIC_INTERVAL_MS;
}

function headers(issues: Issues, env: Env, signal: 'LOGS' | 'METRICS'): Record<string, string> {
  const shared = present(env, 'OTEL_EXPORTER_OTLP_HEADERS');
  const own = present(env, `OTEL_EXPORTER_OTLP_${signal}_HEADERS`);
  return {
    ...(shared === undefined ? {} : parseHeaderList(issues, 'OTEL_EXPORTER_OTLP_HEADERS', shared)),
    ...(own === undefined ? {} : parseHeaderList(issues, `OTEL_EXPORTER_OTLP_${signal}_HEADERS`, own)),
  };
}

/**
 * The export settings, or undefined when no endpoint is configured (then nothing telemetry-related
 * is loaded). `telemetryUrl` is CLEF_AGENT_TELEMETRY_URL already parsed by the settings table; it
 * wins over the OTel logs endpoints and is used as given. `allowHttp` undefined skips the plain-http
 * rule (CLEF_AGENT_ALLOW_HTTP itself was invalid and is reported on its own).
 */
export function resolveTelemetry(env: Env, telemetryUrl: URL | undefined, allowHttp: boolean | undefined, all: AllIssues): TelemetryConfig | undefined {
  // A shared variable is read for both signals; its problem is reported once.
  const seen = new Set<string>();
  const issues: Issues = {
    add(variable, problem, expected) {
      const key = `${variable}\n${problem}`;
      if (seen.has(key)) return;
      seen.add(key);
      all.add(variable, problem, expected);
    },
  };
  const base = present(env, OTLP_ENDPOINT);
  const logsRaw = present(env, OTLP_LOGS_ENDPOINT);
  const metricsRaw = present(env, OTLP_METRICS_ENDPOINT);
  let logs: URL | undefined;
  if (telemetryUrl !== undefined) logs = endpoint(issues, TELEMETRY_URL, telemetryUrl.href, allowHttp);
  else if (logsRaw !== undefined) logs = endpoint(issues, OTLP_LOGS_ENDPOINT, logsRaw, allowHttp);
  else if (base !== undefined) logs = endpoint(issues, OTLP_ENDPOINT, base, allowHttp, 'v1/logs');
  let metrics: URL | undefined;
  if (metricsRaw !== undefined) metrics = endpoint(issues, OTLP_METRICS_ENDPOINT, metricsRaw, allowHttp);
  else if (base !== undefined) metrics = endpoint(issues, OTLP_ENDPOINT, base, allowHttp, 'v1/metrics');
  // Checked even without an endpoint: a broken value should not wait for the day one is set.
  const config: TelemetryConfig = {
    logsUrl: logs?.href,
    metricsUrl: metrics?.href,
    logsHeaders: headers(issues, env, 'LOGS'),
    metricsHeaders: headers(issues, env, 'METRICS'),
    logsTimeoutMs: timeout(issues, env, 'LOGS'),
    metricsTimeoutMs: timeout(issues, env, 'METRICS'),
    logsCompression: compression(issues, env, 'LOGS'),
    metricsCompression: compression(issues, env, 'METRICS'),
    logsProtocol: protocol(issues, env, 'LOGS'),
    metricsProtocol: protocol(issues, env, 'METRICS'),
    metricsIntervalMs: metricInterval(issues, env),
  };
  return config.logsUrl === undefined && config.metricsUrl === undefined ? undefined : config;
}
