/**
 * SPEC §8 metrics on the operations listener, against the real agent process (cached mode, file
 * source): `/metrics` in the Prometheus text format 0.0.4 as a real parser reads it, every metric of
 * the list present with its type, and values that move when the agent does — a request, a failed
 * refresh, a connection-cap rejection. No secret value or key name in the scrape.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { KeepAliveConnection, waitUntil } from '../kit/index.js';
import { type FileAgent, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';
import { METRIC_TYPES, opsPort, samples, scrape, value } from '../helpers/ops.js';

const PAYLOAD = { app: { OPS_SECRET_NAME: 'ops-secret-value-7d1c' }, db: { PASSWORD_KEY_X: 'pw-value-93af' } };

describe('§8 /metrics on the operations listener', { timeout: 120_000 }, () => {
  let fa: FileAgent;
  let ops: number;
  before(async () => {
    fa = await startFileAgent({
      payload: PAYLOAD,
      artifact: { revision: 'rev-ops-1' },
      env: { CLEF_AGENT_OPS_ADDR: '127.0.0.1:0', CLEF_AGENT_CACHE_TTL: '30', CLEF_AGENT_POLL_INTERVAL: '5', CLEF_AGENT_MAX_CONNECTIONS: '1' },
    });
    ops = await opsPort(fa.agent);
  });
  after(() => fa?.close());

  it('§8 every listed metric is exposed with its type, parsed by a Prometheus text-format parser', async () => {
    // One request first, so the per-route series exist.
    assert.equal((await fa.agent.request('/v1/secrets')).status, 200);
    const s = await scrape(ops);
    for (const [name, type] of Object.entries(METRIC_TYPES)) {
      const f = s.families.get(name);
      assert.ok(f, `${name} is exposed`);
      assert.equal(f.type, type, `${name} is a ${type}`);
      assert.ok(f.help.length > 0, `${name} has help text`);
    }
    assert.equal(value(s, 'clef_agent_ready'), 1);
    assert.equal(value(s, 'clef_agent_pool_workers'), 1);
    assert.equal(value(s, 'clef_agent_freshness_limit_seconds'), 30);
    assert.deepEqual(samples(s, 'clef_agent_artifact_info')[0]?.labels, { revision: 'rev-ops-1', mode: 'cached', encryption: 'age' });
    assert.ok(value(s, 'clef_agent_refreshes_total', { outcome: 'loaded' }) >= 1, 'the first load counted');
    assert.ok(value(s, 'clef_agent_pool_task_duration_seconds', { kind: 'load' }) >= 1, 'the load task timed');
    assert.ok(value(s, 'clef_agent_process_memory_bytes', { kind: 'rss' }) > 0);
    const since = value(s, 'clef_agent_seconds_since_last_refresh');
    assert.ok(since >= 0 && since < 30, `seconds since the last refresh: ${since}`);
    assert.equal(samples(s, 'clef_agent_event_loop_delay_seconds').length, 4, 'mean, p50, p99, max');
  });

  it('§8 a request moves the request counter (route and status) and the duration histogram', async () => {
    const labels = { listener: 'api', route: 'secrets', status: '200' };
    const before = await scrape(ops);
    const n = value(before, 'clef_agent_http_requests_total', labels);
    const h = value(before, 'clef_agent_http_request_duration_seconds', { listener: 'api', route: 'secrets' });
    assert.equal((await fa.agent.request('/v1/secrets')).status, 200);
    assert.equal((await fa.agent.request('/v1/secrets', { token: 'wrong' })).status, 401);
    assert.equal((await fa.agent.request('/nope')).status, 404);
    const later = await scrape(ops);
    assert.equal(value(later, 'clef_agent_http_requests_total', labels), n + 1);
    assert.equal(value(later, 'clef_agent_http_requests_total', { listener: 'api', route: 'secrets', status: '401' }), 1);
    assert.ok(value(later, 'clef_agent_http_requests_total', { listener: 'api', route: 'unmatched', status: '404' }) >= 1);
    assert.equal(value(later, 'clef_agent_http_request_duration_seconds', { listener: 'api', route: 'secrets' }), h + 2);
    // The scrape before this one was counted on the ops listener.
    assert.ok(value(later, 'clef_agent_http_requests_total', { listener: 'ops', route: 'metrics', status: '200' }) >= 1);
  });

  it('§8 a connection-cap rejection moves clef_agent_overload_rejections_total{reason="too_many_connections"}', async () => {
    const n = value(await scrape(ops), 'clef_agent_overload_rejections_total', { reason: 'too_many_connections' });
    // CLEF_AGENT_MAX_CONNECTIONS=1: one held connection, and the next one is refused with 429.
    const held = await KeepAliveConnection.open(fa.agent.port);
    try {
      assert.equal((await held.request('/v1/health', { Host: `127.0.0.1:${fa.agent.port}` })).status, 200);
      const r = await fa.agent.request('/v1/health');
      assert.equal(r.status, 429);
    } finally {
      await held.close();
    }
    const later = await scrape(ops);
    assert.equal(value(later, 'clef_agent_overload_rejections_total', { reason: 'too_many_connections' }), n + 1);
    assert.ok(value(later, 'clef_agent_http_requests_total', { listener: 'api', route: 'unmatched', status: '429' }) >= 1);
  });

  it('§8 a failed refresh moves clef_agent_refreshes_total{outcome="failed"} with its reason code', async () => {
    const from = fa.agent.logs().length;
    writeFileSync(fa.artifactPath, '{"not":"an artifact"}');
    const line = await fa.agent.logAfter(from, (l) => l.event === 'artifact.invalid' || l.event === 'fetch.failed', 30_000);
    const code = line['code'] as string;
    const s = await waitUntil(
      async () => {
        const now = await scrape(ops);
        return value(now, 'clef_agent_refreshes_total', { outcome: 'failed', reason: code }) >= 1 ? now : undefined;
      },
      10_000,
      'the failed refresh in /metrics',
    );
    // Still serving the last good artifact: ready, and the age keeps growing.
    assert.equal(value(s, 'clef_agent_ready'), 1);
    assert.ok(value(s, 'clef_agent_seconds_since_last_refresh') > 0);
  });

  it('§8 no secret value and no secret key name appears in /metrics', async () => {
    const s = await scrape(ops);
    for (const ns of Object.values(PAYLOAD)) {
      for (const [k, v] of Object.entries(ns)) {
        assert.ok(!s.answer.body.includes(k), `key name ${k} absent`);
        assert.ok(!s.answer.body.includes(v), 'secret value absent');
      }
    }
    assert.ok(!s.answer.body.includes(TOKEN), 'token absent');
  });
});
