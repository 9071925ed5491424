/**
 * The metric definitions (src/telemetry/metrics.ts, cells.ts) without an agent: the exposition a
 * Prometheus parser reads, histogram buckets that are cumulative and end in +Inf = _count, counters
 * that move per recorded event, gauges read from the bound sources at scrape time, and the
 * structured view (getMetricsAsJSON) an OTLP bridge would read.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { RefreshStatus } from '../../src/refresh/sink.js';
import { DURATION_BUCKETS, HistogramFamily } from '../../src/telemetry/cells.js';
import { AgentMetrics, type MetricSources } from '../../src/telemetry/metrics.js';
import { METRIC_TYPES } from '../helpers/ops.js';

function metricsWith(over: Partial<MetricSources> = {}): { m: AgentMetrics; status: RefreshStatus; pool: { size: number; queued: number; running: number } } {
  const status: RefreshStatus = { expired: false };
  const pool = { size: 3, queued: 0, running: 0 };
  const m = new AgentMetrics();
  m.bind({ mode: 'cached', pool, status, ready: () => ({ ready: true }), freshnessSeconds: () => 300, clock: () => 1_000_000, waiters: () => 0, ...over });
  return { m, status, pool };
}

/** `name{labels} value` lines of the text, as a map from the line's name+labels to its value. */
function lines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of text.split('\n')) {
    if (l === '' || l.startsWith('#')) continue;
    const i = l.lastIndexOf(' ');
    const v = l.slice(i + 1);
    out.set(l.slice(0, i), v === '+Inf' ? Number.POSITIVE_INFINITY : Number(v));
  }
  return out;
}

describe('metrics module', () => {
  test('every family of the list is exposed with its Prometheus type and parses', async () => {
    const { m } = metricsWith();
    try {
      const parsed = new Map(parsePrometheusTextFormat(await m.text()).map((f) => [f.name, f.type]));
      for (const [name, type] of Object.entries(METRIC_TYPES)) {
        // Series that exist only once something happened (a request, a task, a load) have no sample
        // yet; their TYPE line is there all the same.
        if (parsed.has(name)) assert.equal(parsed.get(name), type, name);
        else assert.match(await m.text(), new RegExp(`# TYPE ${name} ${type.toLowerCase()}`), name);
      }
      assert.equal(m.contentType, 'text/plain; version=0.0.4; charset=utf-8');
    } finally {
      m.close();
    }
  });

  test('requests: the counter moves per route and status, the histogram per route', async () => {
    const { m } = metricsWith();
    try {
      const api = m.forListener('api');
      api.request('secrets', 200, 0.0004);
      api.request('secrets', 200, 0.003);
      api.request('secrets', 401, 0.0001);
      api.request('unmatched', 404, 0.0001);
      const l = lines(await m.text());
      assert.equal(l.get('clef_agent_http_requests_total{listener="api",route="secrets",status="200"}'), 2);
      assert.equal(l.get('clef_agent_http_requests_total{listener="api",route="secrets",status="401"}'), 1);
      assert.equal(l.get('clef_agent_http_requests_total{listener="api",route="unmatched",status="404"}'), 1);
      assert.equal(l.get('clef_agent_http_request_duration_seconds_count{listener="api",route="secrets"}'), 3);
      assert.equal(l.get('clef_agent_http_request_duration_seconds_bucket{listener="api",route="secrets",le="0.0005"}'), 2);
      assert.equal(l.get('clef_agent_http_request_duration_seconds_bucket{listener="api",route="secrets",le="0.0025"}'), 2);
      assert.equal(l.get('clef_agent_http_request_duration_seconds_bucket{listener="api",route="secrets",le="0.005"}'), 3);
      assert.equal(l.get('clef_agent_http_request_duration_seconds_bucket{listener="api",route="secrets",le="+Inf"}'), 3);
      assert.ok(Math.abs((l.get('clef_agent_http_request_duration_seconds_sum{listener="api",route="secrets"}') ?? 0) - 0.0035) < 1e-12);
    } finally {
      m.close();
    }
  });

  test('histogram buckets are cumulative, a value on a bound counts in that bucket, and +Inf equals _count', () => {
    const h = new HistogramFamily('x_seconds', 'test', [1, 2]);
    const c = h.child({ k: 'a' });
    for (const v of [0.5, 1, 1.5, 2, 7]) c.observe(v);
    const values = h.get().values;
    const bucket = (le: string): number | undefined => values.find((v) => v.labels['le'] === le)?.value;
    assert.equal(bucket('1'), 2);
    assert.equal(bucket('2'), 4);
    assert.equal(bucket('+Inf'), 5);
    assert.equal(values.find((v) => v.metricName === 'x_seconds_count')?.value, 5);
    assert.equal(values.find((v) => v.metricName === 'x_seconds_sum')?.value, 12);
    assert.equal(h.child({ k: 'a' }), c, 'the same labels give the same child');
    assert.deepEqual(
      DURATION_BUCKETS,
      [...DURATION_BUCKETS].sort((a, b) => a - b),
      'bounds ascend',
    );
  });

  test('refreshes, KMS calls, rejections and task durations count; scrape-time gauges read the sources', async () => {
    const { m, status, pool } = metricsWith();
    try {
      m.refreshed('loaded');
      m.refreshed('failed', 'fetch_status');
      m.refreshed('failed', 'fetch_status');
      m.kmsDecrypt();
      m.kmsDecrypt('kms_denied');
      m.rejected('queue_full');
      m.task('serve', 0.01);
      status.lastSuccessAt = 940_000;
      status.meta = { revision: 'r-42', encryption: 'kms' } as RefreshStatus['meta'];
      pool.queued = 2;
      pool.running = 5;
      const l = lines(await m.text());
      assert.equal(l.get('clef_agent_refreshes_total{outcome="loaded",reason=""}'), 1);
      assert.equal(l.get('clef_agent_refreshes_total{outcome="failed",reason="fetch_status"}'), 2);
      assert.equal(l.get('clef_agent_refreshes_total{outcome="unchanged",reason=""}'), 0, 'present at zero from the start');
      assert.equal(l.get('clef_agent_kms_decrypt_calls_total'), 2);
      assert.equal(l.get('clef_agent_kms_decrypt_failures_total{reason="kms_denied"}'), 1);
      assert.equal(l.get('clef_agent_overload_rejections_total{reason="queue_full"}'), 1);
      assert.equal(l.get('clef_agent_overload_rejections_total{reason="too_many_connections"}'), 0);
      assert.equal(l.get('clef_agent_pool_task_duration_seconds_count{kind="serve"}'), 1);
      assert.equal(l.get('clef_agent_seconds_since_last_refresh'), 60);
      assert.equal(l.get('clef_agent_last_refresh_success_timestamp_seconds'), 940);
      assert.equal(l.get('clef_agent_artifact_info{revision="r-42",mode="cached",encryption="kms"}'), 1);
      assert.equal(l.get('clef_agent_pool_queue_depth'), 2);
      assert.equal(l.get('clef_agent_pool_busy_workers'), 3, 'capped at the pool size');
      assert.equal(l.get('clef_agent_pool_workers'), 3);
      assert.equal(l.get('clef_agent_ready'), 1);
      assert.equal(l.get('clef_agent_freshness_limit_seconds'), 300);
    } finally {
      m.close();
    }
  });

  test('before the first success the age gauges and artifact info have no sample (an alert on them does not fire on nothing)', async () => {
    const { m } = metricsWith({ ready: () => ({ ready: false, reason: 'not_loaded' }), freshnessSeconds: () => Number.POSITIVE_INFINITY });
    try {
      const l = lines(await m.text());
      assert.equal(l.has('clef_agent_seconds_since_last_refresh'), false);
      assert.equal(l.has('clef_agent_last_refresh_success_timestamp_seconds'), false);
      assert.equal(
        [...l.keys()].some((k) => k.startsWith('clef_agent_artifact_info')),
        false,
      );
      assert.equal(l.get('clef_agent_ready'), 0);
      assert.equal(l.get('clef_agent_freshness_limit_seconds'), Number.POSITIVE_INFINITY);
    } finally {
      m.close();
    }
  });

  test('label values are escaped in the exposition (a revision is artifact-controlled)', async () => {
    const status: RefreshStatus = { expired: false, meta: { revision: 'a"b\\c\nd', encryption: 'age' } as RefreshStatus['meta'] };
    const { m } = metricsWith({ status });
    try {
      const info = parsePrometheusTextFormat(await m.text()).find((f) => f.name === 'clef_agent_artifact_info');
      assert.equal(info?.metrics[0]?.labels?.['revision'], 'a"b\\c\nd');
    } finally {
      m.close();
    }
  });

  test('the registry gives the structured view an OTLP bridge reads: every family, typed, with its samples', async () => {
    const { m } = metricsWith();
    try {
      m.forListener('ops').request('metrics', 200, 0.001);
      const json = await m.registry.getMetricsAsJSON();
      const names = json.map((f) => f.name);
      for (const name of Object.keys(METRIC_TYPES)) assert.ok(names.includes(name), name);
      const req = json.find((f) => f.name === 'clef_agent_http_requests_total');
      assert.equal(String(req?.type), 'counter');
      assert.deepEqual(req?.values, [{ labels: { listener: 'ops', route: 'metrics', status: '200' }, value: 1 }]);
    } finally {
      m.close();
    }
  });
});
