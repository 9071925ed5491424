/** SPEC §7 export settings: CLEF_AGENT_TELEMETRY_URL and the standard OTEL_EXPORTER_OTLP_* variables. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { cleanup, env, load, refuse, refuseWith } from './helpers.js';

after(cleanup);

const URL_EXPECTED = 'expected an http(s):// URL; plain http only to a loopback host (127.0.0.0/8, ::1, localhost) or with CLEF_AGENT_ALLOW_HTTP=true';
const HEADERS_EXPECTED = 'expected comma-separated name=value pairs (W3C baggage format; values may be percent-encoded), names being HTTP tokens';

describe('telemetry endpoints', () => {
  test('no endpoint: telemetry is off', () => assert.equal(load(env()).telemetry, undefined));
  test('OTEL_EXPORTER_OTLP_ENDPOINT is a base: each signal appends its path', () => {
    const t = load(env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://collector.example.com:4318' })).telemetry;
    assert.equal(t?.logsUrl, 'https://collector.example.com:4318/v1/logs');
    assert.equal(t?.metricsUrl, 'https://collector.example.com:4318/v1/metrics');
  });
  test('OTEL_EXPORTER_OTLP_ENDPOINT with a path keeps it', () =>
    assert.equal(load(env({ OTEL_EXPORTER_OTLP_ENDPOINT: 'https://gw.example.com/otlp/' })).telemetry?.logsUrl, 'https://gw.example.com/otlp/v1/logs'));
  test('the per-signal endpoints are used as given and win over the base', () => {
    const t = load(
      env({
        OTEL_EXPORTER_OTLP_ENDPOINT: 'https://base.example.com',
        OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'https://logs.example.com/custom',
        OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://metrics.example.com/m',
      }),
    ).telemetry;
    assert.equal(t?.logsUrl, 'https://logs.example.com/custom');
    assert.equal(t?.metricsUrl, 'https://metrics.example.com/m');
  });
  test('CLEF_AGENT_TELEMETRY_URL wins over OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', () =>
    assert.equal(
      load(env({ CLEF_AGENT_TELEMETRY_URL: 'https://a.example.com/v1/logs', OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: 'https://b.example.com/v1/logs' })).telemetry
        ?.logsUrl,
      'https://a.example.com/v1/logs',
    ));
  test('only a metrics endpoint: no logs export', () => {
    const t = load(env({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'https://m.example.com/v1/metrics' })).telemetry;
    assert.equal(t?.logsUrl, undefined);
    assert.equal(t?.metricsUrl, 'https://m.example.com/v1/metrics');
  });
  for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_LOGS_ENDPOINT', 'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT']) {
    test(`${name}: plain http to a remote host is refused (credentials masked) unless CLEF_AGENT_ALLOW_HTTP=true`, () => {
      const e = refuse(env({ [name]: 'http://u:pw-secret@otel.example.com:4318' }));
      assert.ok(e.message.includes(`${name}: "http://***@otel.example.com:4318`), e.message);
      assert.ok(e.message.includes('uses plain http to a non-loopback host'), e.message);
      assert.equal(e.message.includes('pw-secret'), false);
      assert.ok(load(env({ [name]: 'http://otel.example.com:4318', CLEF_AGENT_ALLOW_HTTP: 'true' })).telemetry !== undefined);
    });
    test(`${name}: http to a loopback collector is accepted`, () => assert.ok(load(env({ [name]: 'http://127.0.0.1:4318' })).telemetry !== undefined));
    test(`${name}: an unparsable value is refused without echoing it`, () =>
      void refuseWith(env({ [name]: 'not a url s3cr3t' }), [`${name}: is not a valid URL; ${URL_EXPECTED}`]));
    test(`${name}: another scheme is refused`, () =>
      void refuseWith(env({ [name]: 'grpc://otel:4317' }), [`${name}: uses the unsupported scheme "grpc:"; ${URL_EXPECTED}`]));
  }
});

describe('telemetry headers, timeout, compression', () => {
  const on = { OTEL_EXPORTER_OTLP_ENDPOINT: 'https://c.example.com' };
  test('headers: name=value pairs, percent-decoded; the per-signal variable wins per name', () => {
    const t = load(env({ ...on, OTEL_EXPORTER_OTLP_HEADERS: 'X-Team=a%20b, api-key=shared', OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'api-key=logs' })).telemetry;
    assert.deepEqual(t?.logsHeaders, { 'x-team': 'a b', 'api-key': 'logs' });
    assert.deepEqual(t?.metricsHeaders, { 'x-team': 'a b', 'api-key': 'shared' });
  });
  test('headers: a pair without a name is refused by position, never echoing a value', () => {
    const e = refuseWith(env({ ...on, OTEL_EXPORTER_OTLP_HEADERS: 'a=1,=topsecret' }), [
      `OTEL_EXPORTER_OTLP_HEADERS: pair 2 has no valid header name before "="; ${HEADERS_EXPECTED}`,
    ]);
    assert.equal(e.message.includes('topsecret'), false);
  });
  test('headers: a value with control characters is refused, naming the header only', () =>
    void refuseWith(env({ ...on, OTEL_EXPORTER_OTLP_LOGS_HEADERS: 'authorization=Bearer%0Atopsecret' }), [
      `OTEL_EXPORTER_OTLP_LOGS_HEADERS: the value of "authorization" contains control characters; ${HEADERS_EXPECTED}`,
    ]));
  test('headers: bad percent-encoding is refused, naming the header only', () =>
    void refuseWith(env({ ...on, OTEL_EXPORTER_OTLP_HEADERS: 'k=%E0%A4%A' }), [
      `OTEL_EXPORTER_OTLP_HEADERS: the value of "k" is not valid percent-encoding; ${HEADERS_EXPECTED}`,
    ]));
  test('timeout: default 10000 ms; per-signal wins', () => {
    assert.equal(load(env(on)).telemetry?.logsTimeoutMs, 10_000);
    const t = load(env({ ...on, OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_EXPORTER_OTLP_LOGS_TIMEOUT: '2000' })).telemetry;
    assert.equal(t?.logsTimeoutMs, 2000);
    assert.equal(t?.metricsTimeoutMs, 3000);
  });
  for (const bad of ['0', '10001', '5s', '-1']) {
    test(`timeout: ${JSON.stringify(bad)} is refused`, () =>
      void refuseWith(env({ ...on, OTEL_EXPORTER_OTLP_TIMEOUT: bad }), [
        `OTEL_EXPORTER_OTLP_TIMEOUT: "${bad}" is not a whole number of milliseconds in range; expected an integer from 1 to 10000`,
      ]));
  }
  test('compression: gzip or none (default none); per-signal wins', () => {
    assert.equal(load(env(on)).telemetry?.logsCompression, 'none');
    const t = load(env({ ...on, OTEL_EXPORTER_OTLP_COMPRESSION: 'gzip', OTEL_EXPORTER_OTLP_METRICS_COMPRESSION: 'none' })).telemetry;
    assert.equal(t?.logsCompression, 'gzip');
    assert.equal(t?.metricsCompression, 'none');
  });
  test('compression: anything else is refused', () =>
    void refuseWith(env({ ...on, OTEL_EXPORTER_OTLP_COMPRESSION: 'zstd' }), [
      'OTEL_EXPORTER_OTLP_COMPRESSION: "zstd" is not a supported compression; expected "gzip" or "none"',
    ]));
  test('protocol: http/protobuf by default, http/json on request; per-signal wins', () => {
    assert.equal(load(env(on)).telemetry?.logsProtocol, 'http/protobuf');
    assert.equal(load(env(on)).telemetry?.metricsProtocol, 'http/protobuf');
    const t = load(env({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf' })).telemetry;
    assert.equal(t?.logsProtocol, 'http/json');
    assert.equal(t?.metricsProtocol, 'http/protobuf');
  });
  test('protocol: grpc and anything else are refused, saying what is offered', () => {
    void refuseWith(env({ ...on, OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' }), [
      'OTEL_EXPORTER_OTLP_PROTOCOL: is not supported: this agent exports over OTLP/HTTP only; expected "http/protobuf" (the default) or "http/json"',
    ]);
    void refuseWith(env({ ...on, OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: 'http/xml' }), [
      'OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: "http/xml" is not a supported protocol; expected "http/protobuf" (the default) or "http/json"',
    ]);
  });
  test('metric export interval: OTEL_METRIC_EXPORT_INTERVAL, 60 s by default', () => {
    assert.equal(load(env(on)).telemetry?.metricsIntervalMs, 60_000);
    assert.equal(load(env({ ...on, OTEL_METRIC_EXPORT_INTERVAL: '15000' })).telemetry?.metricsIntervalMs, 15_000);
  });
  for (const bad of ['99', '86400001', '1m', '-5']) {
    test(`metric export interval: ${JSON.stringify(bad)} is refused`, () =>
      void refuseWith(env({ ...on, OTEL_METRIC_EXPORT_INTERVAL: bad }), [
        `OTEL_METRIC_EXPORT_INTERVAL: "${bad}" is not a whole number of milliseconds in range; expected an integer from 100 to 86400000`,
      ]));
  }
});
