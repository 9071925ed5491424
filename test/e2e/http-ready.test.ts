/**
 * SPEC §5 `/v1/ready` and the state gate (503) over a real HTTP artifact source: the artifact
 * server holds the first fetch, so the agent is listening but not loaded; then it answers and the
 * agent becomes ready and serves the payload it fetched over HTTP.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { AgentProcess, assertErrorBody, waitUntil } from '../kit/index.js';
import { SECRET_ROUTES, TOKEN } from '../helpers/http-fixtures.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson, samplePayload } from '../helpers/artifacts.js';

const PAYLOAD = samplePayload('READY');

describe('§5 /v1/ready and the 503 state gate (HTTP artifact server)', { timeout: 60_000 }, () => {
  const server = new ArtifactServer();
  const held: ServerResponse[] = [];
  let agent: AgentProcess;

  before(async () => {
    const key = await ageKeyPair();
    server.body = await artifactJson({ recipient: key.recipient, payload: PAYLOAD, revision: 'rev-ready' });
    // Hold every fetch until the test releases it.
    server.behaviour = { kind: 'custom', handler: (_req, res) => void held.push(res) };
    await server.start();
    agent = new AgentProcess({
      CLEF_AGENT_SOURCE: server.url(),
      CLEF_AGENT_AGE_KEY: key.identity,
      CLEF_AGENT_TOKEN: TOKEN,
      CLEF_AGENT_WORKERS: '1',
    });
    await agent.listening();
    // The agent is listening; make sure its first fetch is actually being held.
    await waitUntil(() => held.length > 0, 15_000, 'the first fetch reached the artifact server', 25);
  });

  after(async () => {
    for (const r of held) r.destroy();
    if (agent) await agent.stop();
    await server.close();
  });

  it('§5 GET /v1/ready → 503 {"ready":false,"reason":"not_loaded"} before the first load', async () => {
    const r = await agent.request('/v1/ready', { token: '' });
    assert.equal(r.status, 503);
    assert.deepEqual(r.json(), { ready: false, reason: 'not_loaded' });
    assert.equal(r.headers['x-content-type-options'], 'nosniff');
  });

  it('§5 HEAD /v1/ready → 503 without a body before the first load', async () => {
    const r = await agent.request('/v1/ready', { method: 'HEAD' });
    assert.equal(r.status, 503);
    assert.equal(r.body, '');
  });

  it('§5 GET /v1/health → 200 before the first load (revision null, expired false)', async () => {
    const r = await agent.request('/v1/health', { token: '' });
    assert.equal(r.status, 200);
    const h = r.json<Record<string, unknown>>();
    assert.equal(h['status'], 'ok');
    assert.equal(h['mode'], 'cached');
    assert.equal(h['revision'], null);
    assert.equal(h['lastRefreshAt'], null);
    assert.equal(h['expired'], false);
  });

  for (const path of SECRET_ROUTES) {
    it(`§5 gate order: GET ${path} without a token before loaded → 401, not 503`, async () => {
      assertErrorBody(await agent.request(path, { token: '' }), 401, 'unauthorized');
    });
    it(`§5 GET ${path} with the token before loaded → 503 not_loaded`, async () => {
      const r = await agent.request(path);
      assertErrorBody(r, 503, 'not_loaded');
      assert.equal(r.headers['cache-control'], 'no-store');
    });
  }

  it('§5 gate order: unknown key before loaded → 503 not_loaded (state before lookup), no key oracle', async () => {
    assertErrorBody(await agent.request('/v1/secrets/NO_SUCH_KEY'), 503, 'not_loaded');
  });

  it('§5 GET /v1/ready → 200 {"ready":true} after the first load', async () => {
    // Release every held fetch (a retry after a fetch timeout would be held too).
    server.behaviour = { kind: 'serve' };
    for (const res of held.splice(0)) {
      if (res.destroyed) continue;
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(server.body);
    }
    await agent.ready();
    const r = await agent.request('/v1/ready', { token: '' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { ready: true });
  });

  it('§5 GET /v1/health after the first load reports the revision and an epoch-ms lastRefreshAt', async () => {
    const h = (await agent.request('/v1/health')).json<Record<string, unknown>>();
    assert.equal(h['revision'], 'rev-ready');
    assert.equal(typeof h['lastRefreshAt'], 'number');
    assert.ok(Math.abs((h['lastRefreshAt'] as number) - Date.now()) < 10 * 60_000, 'epoch milliseconds, not seconds');
    assert.equal(h['expired'], false);
  });

  it('§5 GET /v1/secrets over an HTTP source → the payload exactly', async () => {
    const r = await agent.request('/v1/secrets');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), PAYLOAD);
  });

  it('§5 GET /v1/keys and /v1/secrets/:key over an HTTP source', async () => {
    assert.deepEqual((await agent.request('/v1/keys')).json(), ['app__API_KEY', 'app__DATABASE_URL', 'payments__API_KEY', 'payments__STRIPE_KEY']);
    assert.deepEqual((await agent.request('/v1/secrets/payments/API_KEY')).json(), { key: 'payments__API_KEY', value: PAYLOAD['payments']?.['API_KEY'] });
    const plain = await agent.request('/v1/secrets/STRIPE_KEY', { headers: { accept: 'text/plain' } });
    assert.equal(plain.body, PAYLOAD['payments']?.['STRIPE_KEY']);
  });
});
