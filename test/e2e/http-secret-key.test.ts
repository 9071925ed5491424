/**
 * SPEC §5 `GET /v1/secrets/:key` in every form (qualified, `ns/KEY` as two segments or `%2F`, bare
 * unique, bare ambiguous → 409, unknown → 404), flat payloads, `__proto__`/`constructor` keys
 * (SPEC §2.1), and `Accept` negotiation for the bare `text/plain` value.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertErrorBody } from '../kit/index.js';
import { type FileAgent, startFileAgent } from '../helpers/http-fixtures.js';

// Written as JSON text: an object literal with a `__proto__` key would set a prototype instead.
const NESTED_TEXT = JSON.stringify({
  app: { DATABASE_URL: 'postgres://u:KEYFORMS-db@h/app', API_KEY: 'KEYFORMS-app-api', MULTI: 'line 1\nline 2 ünïcødé ✓ "quoted"' },
  payments: { STRIPE_KEY: 'KEYFORMS-stripe', API_KEY: 'KEYFORMS-pay-api' },
  billing: { API_KEY: 'KEYFORMS-bill-api' },
})
  .replace('"MULTI"', '"__proto__":"KEYFORMS-proto","constructor":"KEYFORMS-ctor","MULTI"')
  .replace('"billing":{', '"__proto__":{"toString":"KEYFORMS-ns-proto"},"billing":{');
const NESTED = JSON.parse(NESTED_TEXT) as Record<string, Record<string, string>>;

const FLAT_TEXT = '{"API_KEY":"FLAT-api","DATABASE_URL":"FLAT-db","__proto__":"FLAT-proto","constructor":"FLAT-ctor","lower.dotted-key":"FLAT-dotted"}';
const FLAT = JSON.parse(FLAT_TEXT) as Record<string, string>;

describe('§5 GET /v1/secrets/:key (nested payload)', { timeout: 60_000 }, () => {
  let fa: FileAgent;
  before(async () => {
    fa = await startFileAgent({ payload: NESTED_TEXT });
  });
  after(async () => {
    await fa?.close();
  });

  const get = (path: string, headers: Record<string, string> = {}) => fa.agent.request(path, { headers });

  it('§2.1 the nested payload parses with own __proto__ keys (fixture sanity)', () => {
    assert.ok(Object.hasOwn(NESTED, '__proto__'));
    assert.ok(Object.hasOwn(NESTED['app'] as object, '__proto__'));
  });

  it('§5 GET /v1/secrets returns the payload exactly, __proto__ and constructor keys included', async () => {
    const r = await get('/v1/secrets');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), NESTED);
  });

  it('§5 GET /v1/keys sorted qualified names, __proto__ namespace and keys included', async () => {
    const r = await get('/v1/keys');
    assert.equal(r.status, 200);
    const expected = [
      'app__DATABASE_URL',
      'app__API_KEY',
      'app____proto__',
      'app__constructor',
      'app__MULTI',
      'payments__STRIPE_KEY',
      'payments__API_KEY',
      '__proto____toString',
      'billing__API_KEY',
    ].sort();
    assert.deepEqual(r.json(), expected);
  });

  it('§5 GET /v1/secrets/:key → 200 qualified name app__API_KEY', async () => {
    const r = await get('/v1/secrets/app__API_KEY');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { key: 'app__API_KEY', value: 'KEYFORMS-app-api' });
  });

  it('§5 GET /v1/secrets/:key → 200 ns/KEY as two path segments (app/API_KEY)', async () => {
    const r = await get('/v1/secrets/app/API_KEY');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { key: 'app__API_KEY', value: 'KEYFORMS-app-api' });
  });

  it('§5 GET /v1/secrets/:key → 200 ns/KEY with %2F (app%2FAPI_KEY, app%2fAPI_KEY)', async () => {
    for (const path of ['/v1/secrets/app%2FAPI_KEY', '/v1/secrets/app%2fAPI_KEY', '/v1/secrets/payments%2FAPI_KEY']) {
      const r = await get(path);
      assert.equal(r.status, 200, path);
      const ns = path.includes('payments') ? 'payments' : 'app';
      assert.deepEqual(r.json(), { key: `${ns}__API_KEY`, value: NESTED[ns]?.['API_KEY'] });
    }
  });

  it('§5 GET /v1/secrets/:key → 200 percent-encoded characters in a key are decoded', async () => {
    const r = await get('/v1/secrets/app__API%5FKEY');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { key: 'app__API_KEY', value: 'KEYFORMS-app-api' });
  });

  it('§5 GET /v1/secrets/:key → 200 bare KEY found in exactly one namespace (DATABASE_URL)', async () => {
    const r = await get('/v1/secrets/DATABASE_URL');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), { key: 'app__DATABASE_URL', value: 'postgres://u:KEYFORMS-db@h/app' });
  });

  it('§5 GET /v1/secrets/:key → 409 ambiguous bare key lists candidates (sorted qualified names)', async () => {
    const r = await get('/v1/secrets/API_KEY');
    assert.equal(r.status, 409);
    const body = r.json<Record<string, unknown>>();
    assert.deepEqual(Object.keys(body).sort(), ['candidates', 'error', 'reason']);
    assert.equal(typeof body['error'], 'string');
    assert.equal(body['reason'], 'ambiguous_key');
    assert.deepEqual(body['candidates'], ['app__API_KEY', 'billing__API_KEY', 'payments__API_KEY']);
    assert.ok(!r.body.includes('KEYFORMS'), 'the 409 body carries no secret value');
  });

  it('§5 GET /v1/secrets/:key → 409 stays JSON when Accept prefers text/plain', async () => {
    const r = await get('/v1/secrets/API_KEY', { accept: 'text/plain' });
    assert.equal(r.status, 409);
    assert.match(String(r.headers['content-type']), /^application\/json/);
    assert.equal(r.json<Record<string, unknown>>()['reason'], 'ambiguous_key');
  });

  it('§5 GET /v1/secrets/:key → 404 unknown key in every form', async () => {
    for (const k of [
      'NOPE',
      'app__NOPE',
      'app/NOPE',
      'nope/API_KEY',
      'nope%2FAPI_KEY',
      'nope__API_KEY',
      'app_API_KEY',
      'hasOwnProperty',
      'toJSON',
      'app/constructor_',
      'api_key',
    ]) {
      const r = await get(`/v1/secrets/${k}`);
      assertErrorBody(r, 404, 'not_found');
      const t = await get(`/v1/secrets/${k}`, { accept: 'text/plain' });
      assertErrorBody(t, 404, 'not_found');
    }
  });

  it('§2.1 keys named __proto__ and constructor are served as ordinary keys', async () => {
    const cases: Array<[string, string, string]> = [
      ['app____proto__', 'app____proto__', 'KEYFORMS-proto'],
      ['app/__proto__', 'app____proto__', 'KEYFORMS-proto'],
      ['__proto__', 'app____proto__', 'KEYFORMS-proto'],
      ['app__constructor', 'app__constructor', 'KEYFORMS-ctor'],
      ['constructor', 'app__constructor', 'KEYFORMS-ctor'],
      ['__proto____toString', '__proto____toString', 'KEYFORMS-ns-proto'],
      ['__proto__/toString', '__proto____toString', 'KEYFORMS-ns-proto'],
      ['__proto__%2FtoString', '__proto____toString', 'KEYFORMS-ns-proto'],
      ['toString', '__proto____toString', 'KEYFORMS-ns-proto'],
    ];
    for (const [path, key, value] of cases) {
      const r = await get(`/v1/secrets/${path}`);
      assert.equal(r.status, 200, `${path}: ${r.body}`);
      assert.deepEqual(r.json(), { key, value }, path);
    }
  });

  describe('§5 Accept negotiation for /v1/secrets/:key', () => {
    const cases: Array<[string | undefined, 'text' | 'json']> = [
      ['text/plain', 'text'],
      ['TEXT/PLAIN', 'text'],
      ['text/plain; charset=utf-8', 'text'],
      ['text/plain, application/json', 'text'],
      ['application/json, text/plain;q=0.5', 'json'],
      ['text/plain;q=0.5, application/json', 'json'],
      ['application/json;q=0.1, text/plain;q=0.9', 'text'],
      ['application/json', 'json'],
      ['*/*', 'json'],
      [undefined, 'json'],
      ['text/html', 'json'],
      ['text/plain;q=0', 'json'],
    ];
    for (const [accept, kind] of cases) {
      it(`§5 Accept: ${accept ?? '(none)'} → ${kind === 'text' ? 'bare value as text/plain' : 'JSON {"key","value"}'}`, async () => {
        const r = await get('/v1/secrets/app__MULTI', accept === undefined ? {} : { accept });
        assert.equal(r.status, 200);
        const value = NESTED['app']?.['MULTI'];
        if (kind === 'text') {
          assert.match(String(r.headers['content-type']), /^text\/plain/);
          assert.equal(r.body, value);
        } else {
          assert.match(String(r.headers['content-type']), /^application\/json/);
          assert.deepEqual(r.json(), { key: 'app__MULTI', value });
        }
        assert.equal(Number(r.headers['content-length']), Buffer.byteLength(r.body), 'Content-Length counts bytes (multibyte value)');
      });
    }
  });
});

describe('§5 GET /v1/secrets/:key (flat payload)', { timeout: 60_000 }, () => {
  let fa: FileAgent;
  before(async () => {
    fa = await startFileAgent({ payload: FLAT_TEXT });
  });
  after(async () => {
    await fa?.close();
  });

  it('§5 GET /v1/secrets returns the flat payload exactly', async () => {
    const r = await fa.agent.request('/v1/secrets');
    assert.equal(r.status, 200);
    assert.deepEqual(JSON.parse(r.body), FLAT);
  });

  it('§5 GET /v1/keys lists bare key names, sorted (flat payload)', async () => {
    const r = await fa.agent.request('/v1/keys');
    assert.equal(r.status, 200);
    assert.deepEqual(r.json(), Object.keys(FLAT).sort());
  });

  it('§5 GET /v1/secrets/:key → 200 flat keys by bare name, incl. __proto__ and constructor', async () => {
    for (const k of Object.keys(FLAT)) {
      const r = await fa.agent.request(`/v1/secrets/${encodeURIComponent(k)}`);
      assert.equal(r.status, 200, k);
      assert.deepEqual(r.json(), { key: k, value: FLAT[k] });
      const t = await fa.agent.request(`/v1/secrets/${encodeURIComponent(k)}`, { headers: { accept: 'text/plain' } });
      assert.equal(t.body, FLAT[k]);
    }
  });

  it('§5 GET /v1/secrets/:key → 404 ns/KEY and ns__KEY forms on a flat payload', async () => {
    for (const k of ['x/API_KEY', 'x%2FAPI_KEY', 'x__API_KEY', 'hasOwnProperty', 'valueOf']) {
      assertErrorBody(await fa.agent.request(`/v1/secrets/${k}`), 404, 'not_found');
    }
  });
});

describe('§5 empty payload {}', { timeout: 60_000 }, () => {
  let fa: FileAgent;
  before(async () => {
    fa = await startFileAgent({ payload: {} });
  });
  after(async () => {
    await fa?.close();
  });

  it('§5 GET /v1/secrets → {} and /v1/keys → [] for an empty payload', async () => {
    assert.deepEqual((await fa.agent.request('/v1/secrets')).json(), {});
    assert.deepEqual((await fa.agent.request('/v1/keys')).json(), []);
    assertErrorBody(await fa.agent.request('/v1/secrets/ANY'), 404, 'not_found');
  });
});
