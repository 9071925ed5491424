/**
 * SPEC §5 fixed gate order: connection cap (429) → proxy headers (400) → Host (403) → route (404)
 * → method (405) → token (401, skipped for health and ready) → state (503). Each test sends a
 * request that fails two (or more) gates at once and asserts the earlier gate answers.
 * (429 first: http-limits.test.ts; 401 before 503: http-ready.test.ts.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { samplePayload } from '../helpers/artifacts.js';
import { assertErrorBody } from '../kit/index.js';
import { type FileAgent, startFileAgent } from '../helpers/http-fixtures.js';

describe('§5 gate order', { timeout: 60_000 }, () => {
  let fa: FileAgent;
  before(async () => {
    fa = await startFileAgent({ payload: samplePayload('GATES') });
  });
  after(async () => {
    await fa?.close();
  });

  const req = (path: string, o: { method?: string; headers?: Record<string, string | null>; token?: string } = {}) => fa.agent.request(path, o);
  const evilHost = { host: 'evil.example' };

  it('§5 gate order: X-Forwarded-For + bad Host → 400 proxied_request (proxy before Host)', async () => {
    assertErrorBody(await req('/v1/secrets', { headers: { 'x-forwarded-for': '203.0.113.9', ...evilHost } }), 400, 'proxied_request');
  });

  it('§5 gate order: Forwarded + bad Host → 400 proxied_request', async () => {
    assertErrorBody(await req('/v1/health', { headers: { forwarded: 'for=203.0.113.9', ...evilHost } }), 400, 'proxied_request');
  });

  it('§5 gate order: X-Forwarded-For + unknown route → 400 (proxy before route)', async () => {
    assertErrorBody(await req('/nope', { headers: { 'x-forwarded-for': '203.0.113.9' } }), 400, 'proxied_request');
  });

  it('§5 gate order: Forwarded + POST → 400 (proxy before method)', async () => {
    assertErrorBody(await req('/v1/secrets', { method: 'POST', headers: { forwarded: 'for=x' } }), 400, 'proxied_request');
  });

  it('§5 gate order: X-Forwarded-For + no token → 400 (proxy before token)', async () => {
    assertErrorBody(await req('/v1/secrets', { token: '', headers: { 'x-forwarded-for': '127.0.0.1' } }), 400, 'proxied_request');
  });

  it('§5 gate order: bad Host + unknown route → 403 forbidden_host (Host before route)', async () => {
    assertErrorBody(await req('/nope', { headers: evilHost }), 403, 'forbidden_host');
  });

  it('§5 gate order: bad Host + POST → 403 (Host before method)', async () => {
    assertErrorBody(await req('/v1/health', { method: 'POST', headers: evilHost }), 403, 'forbidden_host');
  });

  it('§5 gate order: bad Host + no token → 403 (Host before token)', async () => {
    assertErrorBody(await req('/v1/secrets', { token: '', headers: evilHost }), 403, 'forbidden_host');
  });

  it('§5 gate order: unknown route + POST → 404 not_found (route before method)', async () => {
    assertErrorBody(await req('/v1/nope', { method: 'POST' }), 404, 'not_found');
  });

  it('§5 gate order: unknown route + no token → 404 (route before token)', async () => {
    assertErrorBody(await req('/v2/secrets', { token: '' }), 404, 'not_found');
  });

  it('§5 gate order: POST + no token → 405 method_not_allowed (method before token)', async () => {
    const r = await req('/v1/secrets', { method: 'POST', token: '' });
    assertErrorBody(r, 405, 'method_not_allowed');
    assert.equal(r.headers['allow'], 'GET, HEAD');
  });

  it('§5 gate order: DELETE + wrong token on /v1/secrets/:key → 405 (method before token)', async () => {
    assertErrorBody(await req('/v1/secrets/app__API_KEY', { method: 'DELETE', token: 'wrong' }), 405, 'method_not_allowed');
  });

  it('§5 gate order: unknown key without a token → 401, not 404 (token before lookup: no key-existence oracle)', async () => {
    const missing = await req('/v1/secrets/NO_SUCH_KEY', { token: '' });
    const present = await req('/v1/secrets/app__API_KEY', { token: '' });
    assertErrorBody(missing, 401, 'unauthorized');
    assert.equal(missing.body, present.body);
  });

  it('§5 gate order: ambiguous key without a token → 401 (no candidate list leaks)', async () => {
    const r = await req('/v1/secrets/API_KEY', { token: '' });
    assertErrorBody(r, 401, 'unauthorized');
    assert.ok(!r.body.includes('candidates'));
  });

  it('§5 gate order: every gate failing at once (XFF, bad Host, unknown route, POST, no token) → 400', async () => {
    assertErrorBody(await req('/nope', { method: 'POST', token: '', headers: { 'x-forwarded-for': '1.2.3.4', ...evilHost } }), 400, 'proxied_request');
  });

  it('§5 gate order: bad Host, unknown route, POST, no token → 403', async () => {
    assertErrorBody(await req('/nope', { method: 'POST', token: '', headers: evilHost }), 403, 'forbidden_host');
  });

  it('§5 gate order: an Upgrade (websocket) request goes through the same gates (403 bad Host, 401 no token, 200 with token)', async () => {
    const upgrade = { connection: 'Upgrade', upgrade: 'websocket' };
    assertErrorBody(await req('/v1/secrets', { headers: { ...upgrade, ...evilHost } }), 403, 'forbidden_host');
    assertErrorBody(await req('/v1/secrets', { token: '', headers: upgrade }), 401, 'unauthorized');
    assert.equal((await req('/v1/keys', { headers: upgrade })).status, 200);
  });

  for (const path of ['/v1/health', '/v1/ready']) {
    it(`§5 token gate skipped for ${path}: no token, a wrong token or a Basic header → 200`, async () => {
      const variants: Array<Record<string, string>> = [{}, { authorization: 'Bearer wrong' }, { authorization: 'Basic dXNlcjpwYXNz' }];
      for (const headers of variants) {
        const r = await req(path, { token: '', headers });
        assert.equal(r.status, 200, `${path} ${JSON.stringify(headers)}`);
      }
    });
  }
});
