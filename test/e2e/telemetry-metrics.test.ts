/**
 * SPEC §7/§8 metrics over OTLP, through the real process and the local collector: the families
 * `/metrics` serves arrive as OTLP metrics (names, types, units, cumulative temporality, the
 * resource), in protobuf by default and JSON when asked; their values move with the agent and
 * agree with the scrape; SIGTERM flushes them; no secret in any byte.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OtlpCollector, type ReceivedMetric } from '../../emulators/otlp-collector.js';
import { waitUntil } from '../kit/index.js';
import { startPolled, type Polled } from '../helpers/scenario.js';
import { opsPort, scrape, value } from '../helpers/ops.js';
import { request, tryConnect } from '../kit/index.js';
import { expectedResource } from '../helpers/telemetry.js';

const SECRET = 'otlp-metric-secret-4be1d0';
const AGENT_ID = 'agent-otlp-metrics';

/** OTLP name → type and unit, written out (not derived) so a renaming shows here. */
const EXPECTED: Readonly<Record<string, { type: ReceivedMetric['type']; unit: string }>> = {
  clef_agent_http_requests: { type: 'sum', unit: '1' },
  clef_agent_http_request_duration: { type: 'histogram', unit: 's' },
  clef_agent_refreshes: { type: 'sum', unit: '1' },
  clef_agent_last_refresh_success_timestamp: { type: 'gauge', unit: 's' },
  clef_agent_seconds_since_last_refresh: { type: 'gauge', unit: 's' },
  clef_agent_freshness_limit: { type: 'gauge', unit: 's' },
  clef_agent_ready: { type: 'gauge', unit: '1' },
  clef_agent_artifact_info: { type: 'gauge', unit: '1' },
  clef_agent_pool_workers: { type: 'gauge', unit: '1' },
  clef_agent_pool_busy_workers: { type: 'gauge', unit: '1' },
  clef_agent_pool_queue_depth: { type: 'gauge', unit: '1' },
  clef_agent_pool_task_duration: { type: 'histogram', unit: 's' },
  clef_agent_kms_decrypt_calls: { type: 'sum', unit: '1' },
  clef_agent_overload_rejections: { type: 'sum', unit: '1' },
  clef_agent_event_loop_delay: { type: 'gauge', unit: 's' },
  clef_agent_process_memory: { type: 'gauge', unit: 'By' },
};

/** The newest received metric of that name. */
function latest(c: OtlpCollector, name: string): ReceivedMetric | undefined {
  return c
    .metrics()
    .filter((m) => m.name === name)
    .at(-1);
}

function pointValue(m: ReceivedMetric | undefined, attrs: Record<string, string>): number | undefined {
  const p = m?.points.find((q) => Object.entries(attrs).every(([k, v]) => q.attributes[k] === v));
  return p?.value ?? p?.histogram?.count;
}

function assertNoSecrets(c: OtlpCollector, p: Polled): void {
  const needles = [SECRET, p.agent.token, p.key.identity, p.key.identity.toLowerCase()];
  for (const r of c.requests)
    for (const b of [r.raw, r.body]) for (const n of needles) assert.equal(b.includes(n), false, `a telemetry request carries a secret (${n.slice(0, 6)}…)`);
}

describe('§7 OTLP metrics export', { concurrency: true }, () => {
  it('§7/§8: every family arrives as OTLP protobuf with its type, unit and the resource; values move and match the scrape', { timeout: 90_000 }, async (t) => {
    const c = await new OtlpCollector().start();
    t.after(() => c.close());
    const p = await startPolled({
      payload: { app: { API_KEY: SECRET } },
      first: { revision: 'rev-otlp-1' },
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: c.endpoint, OTEL_METRIC_EXPORT_INTERVAL: '500', CLEF_AGENT_ID: AGENT_ID, CLEF_AGENT_OPS_ADDR: '127.0.0.1:0' },
    });
    t.after(() => p.close());
    const ops = await opsPort(p.agent);
    const secrets = { listener: 'api', route: 'secrets', status: '200' };
    assert.equal((await p.get('/v1/secrets')).status, 200);
    await waitUntil(() => pointValue(latest(c, 'clef_agent_http_requests'), secrets) === 1, 30_000, 'one request exported');

    const metricRequests = c.metricRequests();
    assert.ok(
      metricRequests.every((r) => r.request.headers['content-type'] === 'application/x-protobuf'),
      'http/protobuf is the default',
    );
    await waitUntil(() => c.requests.some((r) => r.path === '/v1/logs'), 30_000, 'the shared endpoint carries the log records too');
    const m = latest(c, 'clef_agent_ready');
    assert.deepEqual(m?.resource, expectedResource(AGENT_ID));
    assert.equal(m?.scope, 'clef-agent');
    for (const [name, expected] of Object.entries(EXPECTED)) {
      const got = latest(c, name);
      assert.ok(got, `${name} exported`);
      assert.equal(got.type, expected.type, `${name} type`);
      assert.equal(got.unit, expected.unit, `${name} unit`);
      assert.ok((got.description ?? '').length > 0, `${name} has a description`);
      if (got.type !== 'gauge') assert.equal(got.temporality, 2, `${name} is cumulative`);
      if (got.type === 'sum') assert.equal(got.isMonotonic, true, `${name} is monotonic`);
    }
    assert.equal(pointValue(latest(c, 'clef_agent_ready'), {}), 1);
    assert.ok((pointValue(latest(c, 'clef_agent_refreshes'), { outcome: 'loaded' }) ?? 0) >= 1);
    assert.ok((pointValue(latest(c, 'clef_agent_process_memory'), { kind: 'rss' }) ?? 0) > 0);
    assert.deepEqual(latest(c, 'clef_agent_artifact_info')?.points[0]?.attributes, { revision: 'rev-otlp-1', mode: 'cached', encryption: 'age' });
    const h = latest(c, 'clef_agent_http_request_duration')?.points.find((q) => q.attributes['route'] === 'secrets' && q.attributes['listener'] === 'api');
    assert.ok(h?.histogram);
    assert.equal(h.histogram.counts.length, h.histogram.bounds.length + 1, 'one count per bucket and +Inf');
    assert.equal(
      h.histogram.counts.reduce((a, b) => a + b, 0),
      h.histogram.count,
      'per-bucket counts, not cumulative',
    );

    // Another request: the next export counts it, and the scrape agrees.
    assert.equal((await p.get('/v1/secrets')).status, 200);
    await waitUntil(() => pointValue(latest(c, 'clef_agent_http_requests'), secrets) === 2, 30_000, 'the second request exported');
    assert.equal(value(await scrape(ops), 'clef_agent_http_requests_total', secrets), 2);
    // Cumulative series keep their start time from one export to the next.
    const starts = new Set(
      c
        .metrics()
        .filter((x) => x.name === 'clef_agent_http_requests')
        .flatMap((x) => x.points.filter((q) => q.attributes['route'] === 'secrets').map((q) => q.startTimeUnixNano)),
    );
    assert.equal(starts.size, 1, 'one start time for the series');
    assertNoSecrets(c, p);
  });

  it('§7: metrics alone over OTLP/JSON (no ops listener, no log endpoint): SIGTERM flushes them before the exit', { timeout: 90_000 }, async (t) => {
    const c = await new OtlpCollector().start();
    t.after(() => c.close());
    const p = await startPolled({
      payload: { app: { API_KEY: SECRET } },
      // The default interval (60 s) never fires within this test: what arrives is the flush.
      env: { OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: `${c.endpoint}/v1/metrics`, OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/json' },
    });
    t.after(() => p.close());
    assert.equal((await p.get('/v1/secrets')).status, 200);
    assert.equal(c.requests.length, 0, 'nothing before the interval');
    p.agent.child.kill('SIGTERM');
    assert.equal(await p.agent.exited(20_000), 0);
    assert.equal(c.requests.length, 1, 'one flush');
    assert.equal(c.requests[0]?.path, '/v1/metrics');
    assert.equal(c.requests[0]?.headers['content-type'], 'application/json');
    assert.equal(pointValue(latest(c, 'clef_agent_http_requests'), { listener: 'api', route: 'secrets', status: '200' }), 1);
    assertNoSecrets(c, p);
  });

  it(
    'issue bar: ops on 0.0.0.0 scraped at 127.0.0.2, the collector gets the start-up and refresh events and the metrics, no secrets route on the ops port',
    { timeout: 90_000 },
    async (t) => {
      const c = await new OtlpCollector().start();
      t.after(() => c.close());
      const p = await startPolled({
        payload: { app: { API_KEY: SECRET } },
        env: { CLEF_AGENT_OPS_ADDR: '0.0.0.0:0', OTEL_EXPORTER_OTLP_ENDPOINT: c.endpoint, OTEL_METRIC_EXPORT_INTERVAL: '500' },
      });
      t.after(() => p.close());
      const ops = await opsPort(p.agent);
      assert.equal((await p.get('/v1/secrets')).status, 200);
      const s = await scrape(ops, '10.12.0.7', '127.0.0.2');
      assert.equal(value(s, 'clef_agent_http_requests_total', { listener: 'api', route: 'secrets', status: '200' }), 1);
      assert.ok(value(s, 'clef_agent_refreshes_total', { outcome: 'loaded' }) >= 1);
      await waitUntil(
        () => ['agent.started', 'artifact.refreshed'].every((e) => c.records().some((r) => r.eventName === e)),
        30_000,
        'start-up and refresh events exported',
      );
      await waitUntil(() => pointValue(latest(c, 'clef_agent_refreshes'), { outcome: 'loaded' }) !== undefined, 30_000, 'refresh metrics exported');
      for (const target of ['/v1/secrets', '/v1/secrets/app__API_KEY', '/v1/keys']) {
        const r = await request(ops, target, { token: p.agent.token, connect: '127.0.0.2' });
        assert.equal(r.status, 404, `${target} on the ops port`);
        assert.equal(r.body.includes(SECRET), false);
      }
      assert.equal(await tryConnect('127.0.0.2', p.agent.port), 'ECONNREFUSED', 'the secrets API listens on 127.0.0.1 only');
      assertNoSecrets(c, p);
    },
  );
});
