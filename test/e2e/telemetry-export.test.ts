/**
 * SPEC §7 telemetry through the real process and a local OTLP/HTTP collector: the events as log
 * records with the resource attributes, severities and the same fields as the log lines; batching;
 * retry on 503 with Retry-After and none on 400; flush on SIGTERM; no secret in any byte sent; and
 * the SDK is loaded only when telemetry is configured.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { OtlpCollector, type ReceivedRecord } from '../../emulators/otlp-collector.js';
import { tempDir, waitUntil } from '../kit/index.js';
import { agentOn, invalid, isEvent, startPolled, type Polled } from '../helpers/scenario.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair } from '../helpers/artifacts.js';
import { expectedResource } from '../helpers/telemetry.js';

const SECRET = 'otlp-secret-value-7c1f9a';
const AGENT_ID = 'agent-otlp-test';

async function withCollector(t: { after(fn: () => unknown): void }, setup?: (c: OtlpCollector) => void): Promise<OtlpCollector> {
  const c = await new OtlpCollector().start();
  setup?.(c);
  t.after(() => c.close());
  return c;
}

function telemetryEnv(c: OtlpCollector, extra: Record<string, string> = {}): Record<string, string> {
  return { CLEF_AGENT_TELEMETRY_URL: `${c.endpoint}/v1/logs`, CLEF_AGENT_ID: AGENT_ID, ...extra };
}

async function recordOf(c: OtlpCollector, name: string, timeoutMs = 30_000): Promise<ReceivedRecord> {
  let found: ReceivedRecord | undefined;
  await waitUntil(() => (found = c.records().find((r) => r.eventName === name)) !== undefined, timeoutMs, `collector received ${name}`);
  return found as ReceivedRecord;
}

/** No secret value, bearer token or age key in any byte the collector received. */
function assertNoSecrets(c: OtlpCollector, p: Polled): void {
  assert.ok(c.requests.length > 0);
  const needles = [SECRET, p.agent.token, p.key.identity, p.key.identity.toLowerCase()];
  for (const r of c.requests) {
    const bytes = [r.raw, r.body, Buffer.from(JSON.stringify(r.headers))];
    for (const b of bytes) for (const n of needles) assert.equal(b.includes(n), false, `a telemetry request carries a secret (${n.slice(0, 6)}…)`);
  }
}

describe('§7 OTLP log export', { concurrency: true }, () => {
  it(
    '§7: events arrive batched with the resource attributes, severities and the log lines’ fields; SIGTERM flushes; no secret is sent',
    { timeout: 90_000 },
    async (t) => {
      const c = await withCollector(t);
      const p = await startPolled({ payload: { app: { API_KEY: SECRET } }, env: telemetryEnv(c) });
      t.after(() => p.close());

      const started = await recordOf(c, 'agent.started');
      assert.deepEqual(started.resource, expectedResource(AGENT_ID));
      assert.equal(started.severityText, 'INFO');
      assert.equal(started.severityNumber, 9);
      const refreshed = c.records().find((r) => r.eventName === 'artifact.refreshed');
      assert.ok(refreshed, 'artifact.refreshed exported');
      // Batching: the start-up's events travel in one request.
      assert.equal(refreshed.request, started.request);
      const line = p.agent.logs().find(isEvent('artifact.refreshed'));
      assert.equal(refreshed.attributes['clef.revision'], line?.['revision']);
      assert.equal(refreshed.attributes['clef.trigger'], 'startup');
      assert.equal(refreshed.body, line?.['msg']);

      // A rejected artifact: ERROR with the reason code as error.type, as in its log line.
      await p.swap('{"version":1,', invalid('invalid_json'));
      const rejected = await recordOf(c, 'artifact.invalid');
      assert.equal(rejected.severityText, 'ERROR');
      assert.equal(rejected.severityNumber, 17);
      assert.equal(rejected.attributes['error.type'], 'invalid_json');
      const rejectedLine = p.agent.logs().find(isEvent('artifact.invalid'));
      assert.equal(rejectedLine?.['level'], 'error');
      assert.equal(rejected.attributes['clef.trigger'], rejectedLine?.['trigger']);

      p.agent.child.kill('SIGTERM');
      assert.equal(await p.agent.exited(20_000), 0);
      // Flushed before the exit: no waiting after it.
      const stopped = c.records().find((r) => r.eventName === 'agent.stopped');
      assert.ok(stopped, 'agent.stopped was exported before the process exited');
      assert.equal(stopped.attributes['process.signal'], 'SIGTERM');
      assertNoSecrets(c, p);
    },
  );

  it('§7: a 503 with Retry-After is retried with the same batch', { timeout: 60_000 }, async (t) => {
    const c = await withCollector(t, (col) => (col.behaviour = { kind: 'status', status: 503, retryAfter: '1', times: 1 }));
    const p = await startPolled({ payload: { app: { API_KEY: SECRET } }, env: telemetryEnv(c) });
    t.after(() => p.close());
    await recordOf(c, 'agent.started');
    const logs = c.logRequests();
    assert.equal(logs[0]?.request.status, 503);
    assert.equal(logs[1]?.request.status, 200);
    assert.deepEqual(logs[1]?.request.body, logs[0]?.request.body, 'the retry resends the batch');
  });

  it('§7: a 400 is not retried: the batch is dropped and later events still go out', { timeout: 60_000 }, async (t) => {
    const c = await withCollector(t, (col) => (col.behaviour = { kind: 'status', status: 400, times: 1 }));
    const p = await startPolled({ payload: { app: { API_KEY: SECRET } }, env: telemetryEnv(c) });
    t.after(() => p.close());
    await waitUntil(() => c.logRequests().length > 0, 30_000, 'first export');
    p.agent.child.kill('SIGTERM');
    assert.equal(await p.agent.exited(20_000), 0);
    const logs = c.logRequests();
    assert.equal(logs[0]?.request.status, 400);
    assert.equal(logs.length, 2, 'one rejected batch, then the flush on SIGTERM');
    const names = c.records().map((r) => r.eventName);
    assert.deepEqual(names, ['agent.stopped'], 'the rejected batch was not resent');
  });

  for (const mode of ['cached', 'jit'] as const) {
    it(`§7 (${mode}): auth headers from the secrets reach the collector and nothing else`, { timeout: 60_000 }, async (t) => {
      const TOKEN = 'telemetry-token-5d2e8b';
      const API_KEY = 'telemetry-api-key-93af01';
      const c = await withCollector(t);
      const p = await startPolled({
        payload: { app: { API_KEY: SECRET, CLEF_TELEMETRY_TOKEN: TOKEN }, obs: { CLEF_TELEMETRY_HEADERS: `x-api-key=${API_KEY},x-tenant=acme` } },
        env: telemetryEnv(c, mode === 'jit' ? { CLEF_AGENT_CACHE_TTL: '0' } : {}),
      });
      t.after(() => p.close());
      await recordOf(c, 'agent.started');
      const first = c.logRequests()[0]?.request;
      assert.equal(first?.headers['authorization'], `Bearer ${TOKEN}`);
      assert.equal(first?.headers['x-api-key'], API_KEY);
      assert.equal(first?.headers['x-tenant'], 'acme');
      p.agent.child.kill('SIGTERM');
      assert.equal(await p.agent.exited(20_000), 0);
      for (const r of c.requests) for (const b of [r.raw, r.body]) for (const n of [TOKEN, API_KEY, SECRET]) assert.equal(b.includes(n), false);
      const logText = p.agent.output;
      for (const n of [TOKEN, API_KEY]) assert.equal(logText.includes(n), false, 'a telemetry credential was logged');
    });
  }

  it('§7: fetch.failed (WARN), cache.expired (ERROR) and artifact.revoked (WARN) are exported as logged', { timeout: 120_000 }, async (t) => {
    const c = await withCollector(t);
    const p = await startPolled({ payload: { app: { API_KEY: SECRET } }, env: telemetryEnv(c) });
    t.after(() => p.close());
    p.server.behaviour = { kind: 'status', status: 500 };
    const failed = await recordOf(c, 'fetch.failed');
    assert.equal(failed.severityText, 'WARN');
    assert.equal(failed.attributes['http.response.status_code'], 500);
    assert.equal(failed.attributes['clef.trigger'], 'poll');
    // CACHE_TTL=30 without a successful refresh: the snapshot is dropped.
    const expired = await recordOf(c, 'cache.expired', 60_000);
    assert.equal(expired.severityText, 'ERROR');
    assert.equal(expired.severityNumber, 17);
    assert.equal(expired.attributes['clef.ttl'], 30);
    const line = p.agent.logs().find(isEvent('cache.expired'));
    assert.equal(line?.['level'], 'error');
    assert.equal(expired.body, line?.['msg']);

    p.server.behaviour = { kind: 'serve' };
    await p.swap(await p.artifact({ payload: { app: { API_KEY: SECRET } }, revokedAt: new Date().toISOString() }), isEvent('artifact.revoked'));
    const revoked = await recordOf(c, 'artifact.revoked');
    assert.equal(revoked.severityText, 'WARN');
    assert.equal(revoked.severityNumber, 13);
    assertNoSecrets(c, p);
  });

  it('§7: a failed start-up exports its fetch.failed events before exiting', { timeout: 60_000 }, async (t) => {
    const c = await withCollector(t);
    const key = await ageKeyPair();
    const server = await new ArtifactServer().start();
    t.after(() => server.close());
    server.behaviour = { kind: 'status', status: 404 };
    const agent = agentOn(t, server.url(), key.identity, telemetryEnv(c));
    assert.notEqual(await agent.exited(40_000), 0);
    const failed = c.records().filter((r) => r.eventName === 'fetch.failed');
    assert.equal(failed.length, 3, 'one per start-up attempt');
    assert.equal(failed[0]?.severityText, 'WARN');
    assert.equal(failed[0]?.attributes['http.response.status_code'], 404);
    assert.equal(failed[0]?.resource['clef.source.type'], 'http');
  });

  it('§7: the OpenTelemetry SDK is loaded only when telemetry is configured', { timeout: 90_000 }, async (t) => {
    const dir = tempDir(t);
    const hook = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'helpers', 'module-trace.js');
    const loaded = async (env: Record<string, string>, file: string): Promise<string> => {
      const p = await startPolled({ env: { NODE_OPTIONS: `--import=${hook}`, CLEF_TEST_MODULE_TRACE: join(dir, file), ...env } });
      t.after(() => p.close());
      if (env['CLEF_AGENT_TELEMETRY_URL'] !== undefined)
        await waitUntil(() => readFileSync(join(dir, file), 'utf8').includes('/@opentelemetry/'), 30_000, 'SDK loaded');
      await p.close();
      return readFileSync(join(dir, file), 'utf8');
    };
    const c = await withCollector(t);
    const [without, withTelemetry] = await Promise.all([loaded({}, 'off.txt'), loaded(telemetryEnv(c), 'on.txt')]);
    assert.ok(without.includes('/dist/src/main.js'), 'the trace saw the agent start');
    assert.equal(without.includes('/@opentelemetry/'), false, 'no OpenTelemetry module without telemetry');
    assert.ok(withTelemetry.includes('/@opentelemetry/sdk-logs/'), 'the SDK loads when telemetry is configured');
    // A logs endpoint alone loads neither the metrics SDK nor the metric definitions.
    assert.equal(withTelemetry.includes('/@opentelemetry/sdk-metrics/'), false, 'no metrics SDK without a metrics endpoint');
    assert.equal(withTelemetry.includes('/prom-client/'), false, 'no prom-client without a metrics endpoint or ops listener');
  });
});
