/**
 * SPEC §5 route table against the real agent (file source, nested payload): every route's 200
 * answer, HEAD on every route, 405 with Allow for other methods, 404 for unknown routes, and the
 * exact error-body shape.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { samplePayload } from '../helpers/artifacts.js';
import { assertErrorBody } from '../kit/index.js';
import { type FileAgent, ROUTES, startFileAgent } from '../helpers/http-fixtures.js';

const PAYLOAD = samplePayload('ROUTES');
const REVISION = 'rev-routes-42';

describe('§5 HTTP routes (file source, nested payload)', { timeout: 60_000 }, () => {
  let fa: FileAgent;
  let startedAt: number;
  let loadedBy: number;

  before(async () => {
    startedAt = Date.now();
    fa = await startFileAgent({ payload: PAYLOAD, artifact: { revision: REVISION } });
    loadedBy = Date.now();
  });
  after(async () => {
    await fa?.close();
  });

  it('§5 GET /v1/health → 200 with status, mode, revision, lastRefreshAt (epoch ms), expired', async () => {
    const r = await fa.agent.request('/v1/health', { token: '' });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    const h = r.json<Record<string, unknown>>();
    assert.equal(h['status'], 'ok');
    assert.equal(h['mode'], 'cached');
    assert.equal(h['revision'], REVISION);
    assert.equal(h['expired'], false);
    const at = h['lastRefreshAt'];
    assert.equal(typeof at, 'number');
    assert.ok(Number.isInteger(at), 'lastRefreshAt is an integer (epoch milliseconds)');
    assert.ok((at as number) >= startedAt - 1_000 && (at as number) <= loadedBy + 1_000, `lastRefreshAt ${String(at)} within the run`);
  });

  it('§5 GET /v1/health needs no token', async () => {
    const r = await fa.agent.request('/v1/health', { token: '' });
    assert.equal(r.status, 200);
  });

  it('§5 GET /v1/ready → 200 {"ready":true} once loaded, no token needed', async () => {
    const r = await fa.agent.request('/v1/ready', { token: '' });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { ready: true });
  });

  it('§5 GET /v1/secrets → 200 the payload exactly as packed (namespaces → keys → values)', async () => {
    const r = await fa.agent.request('/v1/secrets');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(r.json(), PAYLOAD);
  });

  it('§5 GET /v1/keys → 200 sorted array of qualified names (ns__KEY)', async () => {
    const r = await fa.agent.request('/v1/keys');
    assert.equal(r.status, 200);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.deepEqual(r.json(), ['app__API_KEY', 'app__DATABASE_URL', 'payments__API_KEY', 'payments__STRIPE_KEY']);
  });

  it('§5 GET /v1/secrets/:key → 200 {"key","value"} (qualified name)', async () => {
    const r = await fa.agent.request('/v1/secrets/payments__STRIPE_KEY');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { key: 'payments__STRIPE_KEY', value: PAYLOAD['payments']?.['STRIPE_KEY'] });
  });

  it('§5 a query string does not change the route', async () => {
    const r = await fa.agent.request('/v1/keys?x=1');
    assert.equal(r.status, 200);
    assert.equal(r.json<string[]>().length, 4);
  });

  describe('§5 HEAD is answered like GET without a body', () => {
    const cases: Array<[string, Record<string, string>]> = [
      ...ROUTES.map((p): [string, Record<string, string>] => [p, {}]),
      ['/v1/secrets/app__API_KEY', { accept: 'text/plain' }],
      ['/v1/secrets/API_KEY', {}],
      ['/v1/secrets/NOPE', {}],
      ['/nope', {}],
    ];
    for (const [path, headers] of cases) {
      it(`§5 HEAD ${path}${headers['accept'] ? ` (Accept: ${headers['accept']})` : ''} → same status and headers as GET (incl. Content-Length), empty body`, async () => {
        const get = await fa.agent.request(path, { headers });
        const head = await fa.agent.request(path, { method: 'HEAD', headers });
        assert.equal(head.status, get.status);
        assert.equal(head.body, '');
        assert.ok(Number(get.headers['content-length']) > 0);
        assert.equal(Number(get.headers['content-length']), Buffer.byteLength(get.body));
        const strip = (h: Record<string, unknown>): Record<string, unknown> => {
          const { date: _date, ...rest } = h;
          return rest;
        };
        assert.deepEqual(strip(head.headers), strip(get.headers));
      });
    }
    it('§5 HEAD without a token on a secrets route → 401 like GET', async () => {
      const head = await fa.agent.request('/v1/secrets', { method: 'HEAD', token: '' });
      const get = await fa.agent.request('/v1/secrets', { token: '' });
      assert.equal(head.status, 401);
      assert.equal(get.status, 401);
      assert.equal(head.body, '');
      assert.equal(head.headers['content-length'], get.headers['content-length']);
    });
  });

  describe('§5 other methods on these routes → 405 with Allow: GET, HEAD', () => {
    for (const path of ROUTES) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        it(`§5 ${method} ${path} → 405 method_not_allowed, Allow: GET, HEAD`, async () => {
          const r = await fa.agent.request(path, { method });
          assertErrorBody(r, 405, 'method_not_allowed');
          assert.equal(r.headers['allow'], 'GET, HEAD');
        });
      }
    }
    it('§5 POST with a request body → 405, and the connection still answers the next request', async () => {
      const r = await fa.agent.request('/v1/secrets', { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': '2' } });
      assertErrorBody(r, 405, 'method_not_allowed');
      assert.equal((await fa.agent.request('/v1/health')).status, 200);
    });
  });

  describe('§5 unknown routes → 404 not_found', () => {
    const unknown = [
      '/',
      '/v1',
      '/v1/',
      '/v1/secret',
      '/v2/secrets',
      '/v1/health/',
      '/v1/keys/x',
      '/V1/HEALTH',
      '/v1/secrets/',
      '/v1/secrets/a/b/c',
      '/v1/secrets//KEY',
      '/v1/secrets/%E0%A4%A',
      '/v1/secrets/a%2Fb%2Fc',
      '/favicon.ico',
    ];
    for (const path of unknown) {
      it(`§5 GET ${path} → 404 {"error","reason":"not_found"}`, async () => {
        const r = await fa.agent.request(path);
        assertErrorBody(r, 404, 'not_found');
      });
    }
    it('§5 GET /v1/secrets/:key unknown key → 404 not_found', async () => {
      const r = await fa.agent.request('/v1/secrets/NO_SUCH_KEY');
      assertErrorBody(r, 404, 'not_found');
    });
  });

  it('§5 error bodies are exactly {"error": <string>, "reason": <code>} (401, 403, 400, 404, 405)', async () => {
    assertErrorBody(await fa.agent.request('/v1/secrets', { token: '' }), 401, 'unauthorized');
    assertErrorBody(await fa.agent.request('/v1/secrets', { headers: { host: 'evil.example' } }), 403, 'forbidden_host');
    assertErrorBody(await fa.agent.request('/v1/secrets', { headers: { 'x-forwarded-for': '10.0.0.1' } }), 400, 'proxied_request');
    assertErrorBody(await fa.agent.request('/v1/nope'), 404, 'not_found');
    assertErrorBody(await fa.agent.request('/v1/keys', { method: 'DELETE' }), 405, 'method_not_allowed');
  });
});
