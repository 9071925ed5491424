/**
 * SPEC §8 operations listener against the real agent process: only GET/HEAD /v1/health, /v1/ready
 * and /metrics; every other target 404 (no secrets route by any spelling); other methods 405; no
 * token; bound to 0.0.0.0 it answers on 127.0.0.2 while the secrets API does not. Tests connect to
 * loopback addresses only. And without CLEF_AGENT_OPS_ADDR the metrics code is never loaded.
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AgentProcess, assertErrorBody, parseRawResponse, rawExchange, request, runNode, tempDir, tryConnect } from '../kit/index.js';
import { type FileAgent, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';
import { opsPort, scrape, value } from '../helpers/ops.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';

const PAYLOAD = { app: { API_KEY: 'ops-listener-secret-4b1e' }, db: { PASSWORD: 'ops-listener-pw-c0de' } };
const SECRETS = ['ops-listener-secret-4b1e', 'ops-listener-pw-c0de', 'API_KEY', 'PASSWORD'];

/** One raw request (target and method sent verbatim) to host:port; the parsed answer. */
async function raw(port: number, target: string, o: { method?: string; host?: string; headers?: string[]; connect?: string } = {}) {
  const lines = [`${o.method ?? 'GET'} ${target} HTTP/1.1`, `Host: ${o.host ?? `127.0.0.1:${port}`}`, ...(o.headers ?? []), 'Connection: close', '', ''];
  const text = await rawExchange(port, lines.join('\r\n'), 10_000, o.connect ?? '127.0.0.1');
  const r = parseRawResponse(text);
  assert.ok(r, `an HTTP answer to ${o.method ?? 'GET'} ${target}: ${text.slice(0, 120)}`);
  return r;
}

describe('§8 operations listener bound to 0.0.0.0', { timeout: 120_000 }, () => {
  let fa: FileAgent;
  let ops: number;
  before(async () => {
    fa = await startFileAgent({ payload: PAYLOAD, env: { CLEF_AGENT_OPS_ADDR: '0.0.0.0:0' } });
    ops = await opsPort(fa.agent);
  });
  after(() => fa?.close());

  it('§8 health, ready and metrics answer on 127.0.0.2 (any interface), with a pod-IP Host, while the secrets API port does not', async () => {
    for (const path of ['/v1/health', '/v1/ready', '/metrics']) {
      const r = await raw(ops, path, { connect: '127.0.0.2', host: `10.12.0.7:${ops}` });
      assert.equal(r.status, 200, `${path} on 127.0.0.2`);
    }
    assert.equal(await tryConnect('127.0.0.2', fa.agent.port), 'ECONNREFUSED', 'the secrets API listens on 127.0.0.1 only');
    assert.equal(await tryConnect('127.0.0.1', fa.agent.port), 'connected');
    const health = (await request(ops, '/v1/health')).json<Record<string, unknown>>();
    assert.equal(health['status'], 'ok');
    assert.equal(health['ready'], true);
  });

  it('§8 no token is asked, and a wrong one changes nothing', async () => {
    for (const path of ['/v1/health', '/v1/ready', '/metrics']) {
      assert.equal((await request(ops, path)).status, 200, path);
      assert.equal((await request(ops, path, { token: 'wrong' })).status, 200, `${path} with a wrong token`);
    }
  });

  it('§8 the secrets are unreachable on the ops port by any target form: 404 not_found, no secret in any answer', async () => {
    const api = fa.agent.port;
    const targets = [
      '/v1/secrets',
      '/v1/keys',
      '/v1/secrets/app__API_KEY',
      '/v1/secrets/API_KEY',
      '/v1/secrets/app/API_KEY',
      '/v1/secrets/app%2FAPI_KEY',
      '/v1/secrets/app%2fAPI_KEY',
      '//v1/secrets',
      '/v1//secrets',
      '/v1/secrets/',
      '/./v1/secrets',
      '/v1/health/../secrets',
      '/v1/health/..%2Fsecrets',
      '/metrics/../v1/secrets',
      '/metrics/..%2Fv1%2Fsecrets',
      '/%76%31/secrets',
      '/v1/%73ecrets',
      '/V1/SECRETS',
      '/v1/secrets?x=1',
      '/v1/secrets;/metrics',
      '/v1/secrets%00/metrics',
      '/v1/secrets#/metrics',
      '\\v1\\secrets',
      `http://127.0.0.1:${api}/v1/secrets`,
      `http://127.0.0.1:${ops}/v1/secrets`,
      `http://localhost:${api}/v1/keys`,
      '*',
      '/',
      '',
    ];
    for (const target of targets) {
      for (const headers of [[], [`Authorization: Bearer ${TOKEN}`]]) {
        const r = await raw(ops, target === '' ? '/v1/secrets/%' : target, { headers });
        // Node itself answers 400 to a target it cannot parse; everything else is our 404.
        assert.ok(r.status === 404 || r.status === 400, `${target}: ${r.status}`);
        for (const s of SECRETS) assert.ok(!r.body.includes(s), `no secret in the answer to ${target}`);
        if (r.status === 404) assert.deepEqual(JSON.parse(r.body), { error: 'not found', reason: 'not_found' });
      }
    }
    // Paths next to the three that a lenient router would take for them.
    for (const target of [
      '/v1/health/',
      '//v1/health',
      '/v1/ready/x',
      '/metrics/',
      '//metrics',
      '/%6detrics',
      '/METRICS',
      '/metrics.json',
      '/v1/metrics',
      '/health',
    ]) {
      assertErrorBody(await request(ops, target), 404, 'not_found');
    }
  });

  it('§8 HEAD is answered like GET without a body; other methods get 405 with Allow', async () => {
    for (const path of ['/v1/health', '/v1/ready', '/metrics']) {
      const head = await request(ops, path, { method: 'HEAD' });
      assert.equal(head.status, 200, path);
      assert.equal(head.body, '', `HEAD ${path} has no body`);
      assert.ok(Number(head.headers['content-length']) > 0, `HEAD ${path} announces the GET length`);
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        const r = await request(ops, path, { method });
        assertErrorBody(r, 405, 'method_not_allowed');
        assert.equal(r.headers['allow'], 'GET, HEAD');
      }
    }
    // Route before method: an unknown path is 404 whatever the method.
    assertErrorBody(await request(ops, '/v1/secrets', { method: 'POST' }), 404, 'not_found');
  });

  it('§8 headers: nosniff and no-store on every answer; a doubled Host is refused; a proxy header is not (a scrape may come through one)', async () => {
    const r = await request(ops, '/metrics', { headers: { 'x-forwarded-for': '10.0.0.1' } });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
    assert.equal(r.headers['cache-control'], 'no-store');
    const twice = await raw(ops, '/v1/health', { headers: ['Host: evil.example'] });
    assert.equal(twice.status, 400);
  });

  it('§8 the ops listener counts its own requests under listener="ops"', async () => {
    await request(ops, '/nope');
    const s = await scrape(ops);
    assert.ok(value(s, 'clef_agent_http_requests_total', { listener: 'ops', route: 'unmatched', status: '404' }) >= 1);
    assert.ok(value(s, 'clef_agent_http_requests_total', { listener: 'ops', route: 'health', status: '200' }) >= 1);
  });
});

describe('§8 operations listener start-up', { timeout: 60_000 }, () => {
  it('§8 an ops port already in use stops the start (exit 1) with a message naming CLEF_AGENT_OPS_ADDR; the start-up line names the address', async (t) => {
    const busy = net.createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as net.AddressInfo).port;
    const dir = tempDir(t);
    const key = await ageKeyPair();
    writeFileSync(join(dir, 'a.json'), await artifactJson({ recipient: key.recipient, payload: PAYLOAD }));
    const agent = new AgentProcess({
      CLEF_AGENT_SOURCE: join(dir, 'a.json'),
      CLEF_AGENT_AGE_KEY: key.identity,
      CLEF_AGENT_TOKEN: TOKEN,
      CLEF_AGENT_WORKERS: '1',
      CLEF_AGENT_OPS_ADDR: `127.0.0.1:${port}`,
    });
    try {
      assert.equal(await agent.exited(), 1, agent.output);
      assert.match(agent.stderr, new RegExp(`cannot listen on 127\\.0\\.0\\.1:${port} \\(CLEF_AGENT_OPS_ADDR\\): EADDRINUSE \\(the port is in use\\)`));
      assert.equal(agent.logs().find((l) => l.event === 'agent.starting')?.['opsAddr'], `127.0.0.1:${port}`);
    } finally {
      await agent.stop();
      await new Promise<void>((r) => busy.close(() => r()));
    }
  });
});

describe('§8 the metrics code is loaded only with CLEF_AGENT_OPS_ADDR', { timeout: 90_000 }, () => {
  const probe = fileURLToPath(new URL('../helpers/loaded-modules-probe.js', import.meta.url));

  /** The module URLs a real agent start resolved on the main thread. */
  async function loadedModules(t: { after(fn: () => void): void }, extra: Record<string, string>): Promise<string[]> {
    const fa = await startFileAgent({ payload: PAYLOAD, waitReady: false });
    await fa.agent.stop();
    const dir = tempDir(t);
    const r = await runNode(probe, [`${dir}/trace`], {
      env: {
        CLEF_AGENT_SOURCE: fa.artifactPath,
        CLEF_AGENT_AGE_KEY: fa.key.identity,
        CLEF_AGENT_TOKEN: TOKEN,
        CLEF_AGENT_WORKERS: '1',
        CLEF_AGENT_PORT: '0',
        ...extra,
      },
      timeoutMs: 60_000,
    });
    await fa.close();
    assert.equal(r.code, 0, r.stderr);
    const i = r.stdout.indexOf('MODULES:\n');
    assert.ok(i >= 0, r.stdout);
    return r.stdout
      .slice(i + 9)
      .split('\n')
      .filter(Boolean);
  }
  const metricsCode = (urls: string[]): string[] =>
    urls.filter((u) => /prom-client|\/telemetry\/metrics\.js|\/telemetry\/cells\.js|\/http\/ops-server\.js/.test(u));

  it('§8 an agent without CLEF_AGENT_OPS_ADDR loads neither prom-client nor the metrics or ops-listener modules', async (t) => {
    const urls = await loadedModules(t, {});
    assert.ok(
      urls.some((u) => u.endsWith('/src/agent.js')),
      'the trace saw the agent load',
    );
    assert.deepEqual(metricsCode(urls), []);
  });

  it('§8 with CLEF_AGENT_OPS_ADDR the same trace shows them loaded (the probe can see them)', async (t) => {
    const urls = await loadedModules(t, { CLEF_AGENT_OPS_ADDR: '127.0.0.1:0' });
    const found = metricsCode(urls);
    for (const m of ['prom-client', '/telemetry/metrics.js', '/http/ops-server.js'])
      assert.ok(
        found.some((u) => u.includes(m)),
        `${m} loaded`,
      );
  });
});
