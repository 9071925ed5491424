/**
 * SPEC §5.1 request-origin guards on every route (health and ready included): the DNS-rebinding
 * `Host` check (403 `forbidden_host`; more than one `Host` header: 400 `invalid_host`), proxy headers (400 `proxied_request`), and the response
 * headers (`Cache-Control: no-store` on secrets routes, `X-Content-Type-Options: nosniff` on every
 * answer, never a CORS header — also not on a preflight).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertErrorBody, type HttpAnswer, parseRawResponse, rawExchange } from '../kit/index.js';
import { type FileAgent, ROUTES, SECRET_ROUTES, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';
import { samplePayload } from '../helpers/artifacts.js';

function assertNoCors(r: { headers: Record<string, unknown> }, what: string): void {
  const cors = Object.keys(r.headers).filter((h) => h.toLowerCase().startsWith('access-control-'));
  assert.deepEqual(cors, [], `no CORS headers on ${what}`);
}

describe('§5.1 Host, proxy headers and response headers', { timeout: 90_000 }, () => {
  let fa: FileAgent;
  let port: number;
  before(async () => {
    fa = await startFileAgent({ payload: samplePayload('HOST') });
    port = fa.agent.port;
  });
  after(async () => {
    await fa?.close();
  });

  const get = (path: string, headers: Record<string, string | null>, method = 'GET'): Promise<HttpAnswer> => fa.agent.request(path, { headers, method });

  describe('§5.1 DNS-rebinding guard: allowed Host values', () => {
    const allowed = (): string[] => ['127.0.0.1', `127.0.0.1:${port}`, 'localhost', `localhost:${port}`, 'LOCALHOST', `LocalHost:${port}`];
    it('§5.1 Host 127.0.0.1, 127.0.0.1:<port>, localhost, localhost:<port>, LOCALHOST accepted on every route', async () => {
      for (const host of allowed()) {
        for (const path of ROUTES) {
          const r = await get(path, { host });
          assert.equal(r.status, 200, `${host} ${path}: ${r.body}`);
        }
      }
    });
  });

  describe('§5.1 DNS-rebinding guard: refused Host values → 403 forbidden_host on every route', () => {
    const refused = (): string[] => [
      'evil.com',
      `evil.com:${port}`,
      '127.0.0.1:1',
      `127.0.0.1:${port + 1}`,
      'localhost:1',
      'localhost.evil.com',
      `localhost.evil.com:${port}`,
      '127.0.0.1.nip.io',
      'localhost.',
      '[::1]',
      `[::1]:${port}`,
      '0.0.0.0',
      '127.0.0.2',
      '127.1',
      '2130706433',
      `127.0.0.1:${port}@evil.com`,
      `127.0.0.1:0${port}`,
    ];
    for (const path of ROUTES) {
      it(`§5.1 refused Host values on ${path} → 403 forbidden_host (evil.com, 127.0.0.1:1, localhost.evil.com, [::1], …)`, async () => {
        for (const host of refused()) {
          const r = await get(path, { host });
          assertErrorBody(r, 403, 'forbidden_host');
          assert.ok(!r.body.includes('HOST-'), 'no secret in the 403');
        }
      });
      it(`§5.1 refused Host on ${path} even with a valid token and for HEAD`, async () => {
        const r = await fa.agent.request(path, { method: 'HEAD', headers: { host: 'evil.com' }, token: TOKEN });
        assert.equal(r.status, 403);
        assert.equal(r.body, '');
      });
    }

    it("§5.1 empty Host header → refused (403, or Node's 400)", async () => {
      const text = await rawExchange(port, `GET /v1/health HTTP/1.1\r\nHost: \r\nConnection: close\r\n\r\n`);
      const r = parseRawResponse(text);
      assert.ok(r, `a response: ${text}`);
      assert.ok(r.status === 403 || r.status === 400, `status ${r.status}`);
    });

    it("§5.1 no Host header at all (HTTP/1.1) → refused (Node's 400 or 403)", async () => {
      const text = await rawExchange(port, `GET /v1/secrets HTTP/1.1\r\nAuthorization: Bearer ${TOKEN}\r\nConnection: close\r\n\r\n`);
      const r = parseRawResponse(text);
      assert.ok(r, `a response: ${text}`);
      assert.ok(r.status === 400 || r.status === 403, `status ${r.status}`);
      assert.ok(!text.includes('HOST-'), 'no secrets');
    });

    for (const path of ROUTES) {
      it(`§5.1 no Host header at all (HTTP/1.0) on ${path} → 403 forbidden_host`, async () => {
        const text = await rawExchange(port, `GET ${path} HTTP/1.0\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`);
        const r = parseRawResponse(text);
        assert.ok(r, `a response: ${text}`);
        assert.equal(r.status, 403);
        assert.equal((JSON.parse(r.body) as { reason: string }).reason, 'forbidden_host');
      });
    }
  });

  describe('§5.1 more than one Host header → 400 invalid_host (RFC 9112 §3.2), at the Host gate', () => {
    /** One raw request: `hosts` become separate header lines, in order. */
    const exchange = async (path: string, hosts: string[], extra = ''): Promise<{ status: number; reason: unknown; text: string }> => {
      const lines = hosts.map((h) => `${h}\r\n`).join('');
      const text = await rawExchange(port, `GET ${path} HTTP/1.1\r\n${lines}Authorization: Bearer ${TOKEN}\r\n${extra}Connection: close\r\n\r\n`);
      const r = parseRawResponse(text);
      assert.ok(r, `a response: ${text}`);
      return { status: r.status, reason: (JSON.parse(r.body) as { reason?: unknown }).reason, text };
    };
    for (const path of ROUTES) {
      it(`§5.1 two Host headers on ${path} → 400 invalid_host, whatever their values and case`, async () => {
        const cases = [
          [`Host: 127.0.0.1:${port}`, `Host: 127.0.0.1:${port}`],
          [`Host: 127.0.0.1:${port}`, 'Host: evil.com'],
          ['Host: evil.com', `host: localhost:${port}`],
          [`HOST: localhost`, `hOsT: 127.0.0.1`, `Host: 127.0.0.1:${port}`],
          [`Host: 127.0.0.1:${port}`, 'Host: '],
        ];
        for (const hosts of cases) {
          const r = await exchange(path, hosts);
          assert.equal(r.status, 400, `${hosts.join(' | ')}: ${r.text.slice(0, 200)}`);
          assert.equal(r.reason, 'invalid_host', hosts.join(' | '));
          assert.ok(!r.text.includes('HOST-'), 'no secret in the 400');
        }
      });
    }
    it('§5.1 gate order: proxy headers answer before a duplicate Host; a duplicate Host before route and method', async () => {
      const two = [`Host: 127.0.0.1:${port}`, `Host: 127.0.0.1:${port}`];
      assert.equal((await exchange('/v1/health', two, 'X-Forwarded-For: 203.0.113.7\r\n')).reason, 'proxied_request');
      assert.equal((await exchange('/nope', two)).reason, 'invalid_host');
      const put = await rawExchange(port, `PUT /v1/health HTTP/1.1\r\n${two.join('\r\n')}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
      assert.equal((JSON.parse(parseRawResponse(put)?.body ?? '{}') as { reason?: unknown }).reason, 'invalid_host', put);
    });
    it('§5.1 control: one Host header with the same request → 200', async () => {
      const r = await exchange('/v1/secrets', [`Host: 127.0.0.1:${port}`]);
      assert.equal(r.status, 200, r.text.slice(0, 200));
    });
  });

  describe('§5.1 proxy headers → 400 proxied_request on every route', () => {
    const proxied: Array<Record<string, string>> = [
      { 'X-Forwarded-For': '203.0.113.7' },
      { 'x-forwarded-for': '127.0.0.1' },
      { Forwarded: 'for=203.0.113.7;proto=http' },
      { forwarded: 'for="[::1]"' },
      { 'X-Forwarded-For': '10.0.0.1', Forwarded: 'for=10.0.0.1' },
    ];
    for (const path of ROUTES) {
      it(`§5.1 X-Forwarded-For or Forwarded on ${path} → 400 proxied_request (even with a valid token)`, async () => {
        for (const headers of proxied) {
          const r = await fa.agent.request(path, { headers, token: TOKEN });
          assertErrorBody(r, 400, 'proxied_request');
          assert.ok(!r.body.includes('HOST-'), 'no secret in the 400');
        }
      });
    }
    it('§5.1 an empty X-Forwarded-For / Forwarded header still counts as proxied → 400', async () => {
      for (const name of ['X-Forwarded-For', 'Forwarded']) {
        const text = await rawExchange(
          port,
          `GET /v1/secrets HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${TOKEN}\r\n${name}:\r\nConnection: close\r\n\r\n`,
        );
        const r = parseRawResponse(text);
        assert.equal(r?.status, 400, `${name}: ${text.slice(0, 120)}`);
      }
    });
    it('§5.1 HEAD with X-Forwarded-For → 400 without a body', async () => {
      const r = await fa.agent.request('/v1/health', { method: 'HEAD', headers: { 'x-forwarded-for': '1.1.1.1' } });
      assert.equal(r.status, 400);
      assert.equal(r.body, '');
    });
  });

  describe('§5.1 response headers', () => {
    for (const path of SECRET_ROUTES) {
      it(`§5.1 Cache-Control: no-store on ${path} (200, HEAD, 401)`, async () => {
        for (const r of [await fa.agent.request(path), await fa.agent.request(path, { method: 'HEAD' }), await fa.agent.request(path, { token: '' })]) {
          assert.equal(r.headers['cache-control'], 'no-store', `${path} ${r.status}`);
        }
      });
    }
    it('§5.1 Cache-Control: no-store on /v1/secrets/:key text/plain, 404 and 409 answers', async () => {
      const answers = [
        await get('/v1/secrets/app__API_KEY', { accept: 'text/plain' }),
        await get('/v1/secrets/NOPE', {}),
        await get('/v1/secrets/API_KEY', {}),
      ];
      assert.deepEqual(
        answers.map((r) => r.status),
        [200, 404, 409],
      );
      for (const r of answers) assert.equal(r.headers['cache-control'], 'no-store');
    });

    it('§5.1 X-Content-Type-Options: nosniff on every answer (200, 400, 401, 403, 404, 405, 409, text/plain)', async () => {
      const answers = [
        ...(await Promise.all(ROUTES.map((p) => get(p, {})))),
        await get('/v1/secrets/app__API_KEY', { accept: 'text/plain' }),
        await get('/v1/health', { 'x-forwarded-for': '1.2.3.4' }),
        await fa.agent.request('/v1/keys', { token: 'bad' }),
        await get('/v1/health', { host: 'evil.com' }),
        await get('/nope', {}),
        await get('/v1/health', {}, 'PUT'),
        await get('/v1/secrets/API_KEY', {}),
      ];
      assert.deepEqual(answers.map((r) => r.status).sort(), [200, 200, 200, 200, 200, 200, 400, 401, 403, 404, 405, 409]);
      for (const r of answers) assert.equal(r.headers['x-content-type-options'], 'nosniff', `status ${r.status}`);
    });

    it('§5.1 no Access-Control-* header on any route, even with an Origin header', async () => {
      const origin = { origin: 'https://evil.example' };
      for (const path of [...ROUTES, '/nope']) {
        assertNoCors(await get(path, origin), `GET ${path}`);
        assertNoCors(await get(path, origin, 'HEAD'), `HEAD ${path}`);
        assertNoCors(await fa.agent.request(path, { headers: origin, token: 'bad' }), `GET ${path} bad token`);
      }
    });

    for (const path of ROUTES) {
      it(`§5.1 CORS preflight OPTIONS ${path} → 405 without any Access-Control-* header`, async () => {
        const r = await fa.agent.request(path, {
          method: 'OPTIONS',
          token: '',
          headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
        });
        assertErrorBody(r, 405, 'method_not_allowed');
        assertNoCors(r, `OPTIONS ${path}`);
      });
    }
  });
});
