/**
 * SPEC §10.3 scoped tokens against the real agent, in both modes (one cached and one JIT agent,
 * started together): a scoped token sees only its namespaces on every secrets route — `/v1/secrets`,
 * `/v1/keys`, `/v1/secrets/:key` (404 outside the scope, indistinguishable from a missing key; a bare
 * key unique in the scope resolves; 409 candidates only from the scope) — while the main token sees
 * everything; a near-miss of any token is the same 401; cached and JIT scoped bodies are the same
 * bytes; the request metric names the token; no token or hash reaches the logs.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { assertErrorBody, request, suiteTempDirs, type HttpAnswer } from '../kit/index.js';
import { startFileAgent, TOKEN, type FileAgent } from '../helpers/http-fixtures.js';

const WEB = 'a1'.repeat(32);
const BILLING = 'b2'.repeat(32);
const sha = (t: string): string => createHash('sha256').update(t).digest('hex');

const PAYLOAD = {
  app: { DATABASE_URL: 'postgres://scoped-db', API_KEY: 'app-api-key-value' },
  payments: { STRIPE_KEY: 'stripe-value', API_KEY: 'payments-api-key-value' },
  ops: { API_KEY: 'ops-api-key-value', PAGER: 'pager-value' },
};
const ALL_KEYS = ['app__API_KEY', 'app__DATABASE_URL', 'ops__API_KEY', 'ops__PAGER', 'payments__API_KEY', 'payments__STRIPE_KEY'];

const TOKENS_JSON = JSON.stringify({
  tokens: [
    { name: 'web', sha256: sha(WEB), namespaces: ['app'] },
    // Upper-case hex is accepted too.
    { name: 'billing', sha256: sha(BILLING).toUpperCase(), namespaces: ['payments', 'app'] },
  ],
});

describe('§10.3 scoped tokens (real agent, cached and JIT)', { timeout: 90_000 }, () => {
  const agents: Record<'cached' | 'jit', FileAgent | undefined> = { cached: undefined, jit: undefined };
  let opsPort = 0;
  const dirs = suiteTempDirs('clef-scoped-');

  before(async () => {
    const start = async (ttl: string, extra: Record<string, string>): Promise<FileAgent> => {
      const file = join(dirs.make(), 'tokens.json');
      writeFileSync(file, TOKENS_JSON, { mode: 0o600 });
      return startFileAgent({ payload: PAYLOAD, env: { CLEF_AGENT_CACHE_TTL: ttl, CLEF_AGENT_TOKENS_FILE: file, ...extra } });
    };
    const [cached, jit] = await Promise.all([start('300', { CLEF_AGENT_OPS_ADDR: '127.0.0.1:0' }), start('0', {})]);
    agents.cached = cached;
    agents.jit = jit;
    opsPort = (await cached.agent.waitForLog((l) => l.event === 'ops.listening'))['port'] as number;
  });
  after(async () => {
    await Promise.all([agents.cached?.close(), agents.jit?.close()]);
  });

  const get = (mode: 'cached' | 'jit', path: string, token: string, o: { method?: string; accept?: string } = {}): Promise<HttpAnswer> => {
    const fa = agents[mode];
    assert.ok(fa);
    return fa.agent.request(path, { token, method: o.method, headers: o.accept === undefined ? {} : { accept: o.accept } });
  };

  for (const mode of ['cached', 'jit'] as const) {
    describe(`${mode} mode`, () => {
      it('/v1/secrets: the main token sees every namespace, a scoped token only its own', async () => {
        assert.deepEqual((await get(mode, '/v1/secrets', TOKEN)).json(), PAYLOAD);
        const web = await get(mode, '/v1/secrets', WEB);
        assert.equal(web.status, 200);
        assert.deepEqual(web.json(), { app: PAYLOAD.app });
        assert.ok(!web.body.includes('stripe-value') && !web.body.includes('ops-api-key-value'));
        const billing = await get(mode, '/v1/secrets', BILLING);
        // Payload order, not the file's order of namespaces.
        assert.equal(billing.body, JSON.stringify({ app: PAYLOAD.app, payments: PAYLOAD.payments }));
        const head = await get(mode, '/v1/secrets', WEB, { method: 'HEAD' });
        assert.equal(head.status, 200);
        assert.equal(head.headers['content-length'], String(web.bytes.length));
      });

      it('/v1/keys lists only the scope’s keys', async () => {
        assert.deepEqual((await get(mode, '/v1/keys', TOKEN)).json(), ALL_KEYS);
        assert.deepEqual((await get(mode, '/v1/keys', WEB)).json(), ['app__API_KEY', 'app__DATABASE_URL']);
        assert.deepEqual((await get(mode, '/v1/keys', BILLING)).json(), ['app__API_KEY', 'app__DATABASE_URL', 'payments__API_KEY', 'payments__STRIPE_KEY']);
      });

      it('/v1/secrets/:key outside the scope is 404, the same answer as a key that does not exist', async () => {
        const missing = await get(mode, '/v1/secrets/app__NOPE', WEB);
        assertErrorBody(missing, 404, 'not_found');
        for (const path of [
          '/v1/secrets/payments__STRIPE_KEY',
          '/v1/secrets/payments/STRIPE_KEY',
          '/v1/secrets/payments%2FSTRIPE_KEY',
          '/v1/secrets/STRIPE_KEY',
          '/v1/secrets/PAGER',
        ]) {
          const r = await get(mode, path, WEB);
          assertErrorBody(r, 404, 'not_found');
          assert.equal(r.body, missing.body, path);
          assert.equal(r.headers['content-length'], missing.headers['content-length'], path);
        }
        // The main token does see them.
        assert.deepEqual((await get(mode, '/v1/secrets/payments__STRIPE_KEY', TOKEN)).json(), { key: 'payments__STRIPE_KEY', value: 'stripe-value' });
      });

      it('in-scope keys by every name form, JSON and text/plain', async () => {
        assert.deepEqual((await get(mode, '/v1/secrets/app__DATABASE_URL', WEB)).json(), { key: 'app__DATABASE_URL', value: 'postgres://scoped-db' });
        assert.deepEqual((await get(mode, '/v1/secrets/app/DATABASE_URL', WEB)).json(), { key: 'app__DATABASE_URL', value: 'postgres://scoped-db' });
        const plain = await get(mode, '/v1/secrets/DATABASE_URL', WEB, { accept: 'text/plain' });
        assert.equal(plain.status, 200);
        assert.equal(plain.body, 'postgres://scoped-db');
      });

      it('a bare key unique within the scope resolves; 409 candidates come only from the scope', async () => {
        const all = await get(mode, '/v1/secrets/API_KEY', TOKEN);
        assert.equal(all.status, 409);
        assert.deepEqual(all.json<{ candidates: string[] }>().candidates, ['app__API_KEY', 'ops__API_KEY', 'payments__API_KEY']);
        assert.deepEqual((await get(mode, '/v1/secrets/API_KEY', WEB)).json(), { key: 'app__API_KEY', value: 'app-api-key-value' });
        const billing = await get(mode, '/v1/secrets/API_KEY', BILLING);
        assert.equal(billing.status, 409);
        assert.deepEqual(billing.json(), { error: 'ambiguous key', reason: 'ambiguous_key', candidates: ['app__API_KEY', 'payments__API_KEY'] });
      });

      it('ETags are per scope: a scope’s tag never matches another scope’s representation, and its own gives 304', async () => {
        const main = await get(mode, '/v1/secrets', TOKEN);
        const web = await get(mode, '/v1/secrets', WEB);
        const billing = await get(mode, '/v1/secrets', BILLING);
        const tags = [main, web, billing].map((r) => r.headers['etag']);
        assert.equal(new Set(tags).size, 3, `three scopes, three tags: ${tags.join(' ')}`);
        const fa = agents[mode];
        assert.ok(fa);
        const conditional = (token: string, tag: string | string[] | undefined): Promise<HttpAnswer> =>
          fa.agent.request('/v1/secrets', { token, headers: { 'if-none-match': String(tag) } });
        assert.equal((await conditional(WEB, web.headers['etag'])).status, 304);
        // The main token's tag presented by a scoped token: its own representation is different, so 200 with its scope only.
        const crossed = await conditional(WEB, main.headers['etag']);
        assert.equal(crossed.status, 200);
        assert.deepEqual(crossed.json(), { app: PAYLOAD.app });
        assert.equal((await conditional(TOKEN, web.headers['etag'])).status, 200);
      });

      it('a wrong token gets the same 401 whatever it nearly matches', async () => {
        const reference = await get(mode, '/v1/secrets', 'f'.repeat(64));
        assertErrorBody(reference, 401, 'unauthorized');
        const flip = (t: string): string => `${t.slice(0, -1)}${t.endsWith('0') ? '1' : '0'}`;
        for (const near of [flip(WEB), WEB.slice(0, -1), `${WEB}0`, flip(BILLING), sha(WEB), flip(TOKEN), WEB.toUpperCase()]) {
          const r = await get(mode, '/v1/secrets', near);
          assert.equal(r.status, 401);
          assert.equal(r.body, reference.body);
          assert.equal(r.headers['content-length'], reference.headers['content-length']);
        }
      });
    });
  }

  it('cached and JIT answer a scope with the same bytes', async () => {
    for (const path of ['/v1/secrets', '/v1/keys', '/v1/secrets/API_KEY', '/v1/secrets/app__DATABASE_URL']) {
      for (const token of [WEB, BILLING, TOKEN]) {
        const [c, j] = await Promise.all([get('cached', path, token), get('jit', path, token)]);
        assert.equal(c.status, j.status, path);
        assert.equal(c.body, j.body, path);
      }
    }
  });

  it('JIT: concurrent requests of different scopes (batched together) each get their own scope', async () => {
    const tokens = [WEB, BILLING, TOKEN, WEB, BILLING, TOKEN, WEB, BILLING];
    const answers = await Promise.all(tokens.map((t) => get('jit', '/v1/keys', t)));
    for (const [i, r] of answers.entries()) {
      const expected =
        tokens[i] === WEB
          ? ['app__API_KEY', 'app__DATABASE_URL']
          : tokens[i] === BILLING
            ? ['app__API_KEY', 'app__DATABASE_URL', 'payments__API_KEY', 'payments__STRIPE_KEY']
            : ALL_KEYS;
      assert.deepEqual(r.json(), expected);
    }
  });

  it('the request metric names the token by its name; logs carry neither tokens nor hashes', async () => {
    const m = await request(opsPort, '/metrics');
    assert.equal(m.status, 200);
    assert.match(m.body, /clef_agent_http_authenticated_requests_total\{[^}]*route="secrets"[^}]*token="web"[^}]*\} [1-9]/);
    assert.match(m.body, /clef_agent_http_authenticated_requests_total\{[^}]*token="main"/);
    for (const fa of [agents.cached, agents.jit]) {
      const out = fa?.agent.output ?? '';
      for (const secret of [WEB, BILLING, TOKEN, sha(WEB), sha(BILLING), sha(BILLING).toUpperCase(), 'stripe-value'])
        assert.ok(!out.includes(secret), 'no token, hash or value in the logs');
    }
  });
});
