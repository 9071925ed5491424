/**
 * SPEC §10.2 entity tags and conditional requests against the real agent, in cached and JIT mode
 * (file source): every 200 of a secrets route carries a strong ETag, stable per revision and
 * route, different across routes and representations; `If-None-Match` with it → 304 without a
 * body (GET and HEAD), after the token gate; `?wait` is checked (400 invalid_wait). In JIT mode a
 * 304 runs no worker task: the pool's serve-task counter on /metrics does not move.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { samplePayload } from '../helpers/artifacts.js';
import { type FileAgent, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';
import { opsPort, scrape, value } from '../helpers/ops.js';
import { assertErrorBody, type HttpAnswer } from '../kit/index.js';

const PAYLOAD = samplePayload('ETAG');

/** Every 200 representation of the secrets routes: path and Accept. */
const REPRESENTATIONS: ReadonlyArray<readonly [string, string | undefined]> = [
  ['/v1/secrets', undefined],
  ['/v1/keys', undefined],
  ['/v1/secrets/app__DATABASE_URL', undefined],
  ['/v1/secrets/app__DATABASE_URL', 'text/plain'],
  ['/v1/secrets/app/API_KEY', undefined],
  ['/v1/secrets/payments__STRIPE_KEY', undefined],
];

const label = ([path, accept]: readonly [string, string | undefined]): string => `${path}${accept === undefined ? '' : ` (${accept})`}`;

for (const mode of ['cached', 'jit'] as const) {
  describe(`§10.2 ETag and If-None-Match, ${mode} mode`, { timeout: 60_000 }, () => {
    let fa: FileAgent;
    let ops: number;
    const get = (path: string, headers: Record<string, string> = {}, method = 'GET', token = TOKEN): Promise<HttpAnswer> =>
      fa.agent.request(path, { headers, method, token });
    const tagOf = async (path: string, accept?: string): Promise<string> => {
      const r = await get(path, accept === undefined ? {} : { accept });
      assert.equal(r.status, 200, r.body);
      const tag = r.headers.etag;
      assert.ok(tag !== undefined, `${path}: an ETag`);
      return tag;
    };

    before(async () => {
      fa = await startFileAgent({
        payload: PAYLOAD,
        env: { CLEF_AGENT_CACHE_TTL: mode === 'jit' ? '0' : '300', CLEF_AGENT_OPS_ADDR: '127.0.0.1:0' },
      });
      ops = await opsPort(fa.agent);
    });
    after(() => fa?.close());

    it('§10.2 every 200 carries a strong ETag: stable per route, distinct across routes and representations, HEAD the same as GET', async () => {
      const tags = new Map<string, string>();
      for (const rep of REPRESENTATIONS) {
        const [path, accept] = rep;
        const tag = await tagOf(path, accept);
        assert.match(tag, /^"[A-Za-z0-9_-]{43}"$/, 'strong (no W/), quoted base64url SHA-256');
        assert.equal(await tagOf(path, accept), tag, `${label(rep)}: the same tag again`);
        const head = await get(path, accept === undefined ? {} : { accept }, 'HEAD');
        assert.equal(head.status, 200);
        assert.equal(head.headers.etag, tag, `${label(rep)}: HEAD carries the GET's tag`);
        tags.set(label(rep), tag);
      }
      assert.equal(new Set(tags.values()).size, tags.size, `one tag per representation: ${JSON.stringify([...tags])}`);
      // The tag is derived from the ciphertext hash and the route, never from the body.
      const r = await get('/v1/secrets/app__API_KEY', { accept: 'text/plain' });
      assert.ok(!String(r.headers.etag).includes(r.body));
    });

    it('§10.2 If-None-Match with the current tag → 304, no body, the tag and no-store; GET and HEAD, W/ and list forms, *', async () => {
      for (const rep of REPRESENTATIONS) {
        const [path, accept] = rep;
        const tag = await tagOf(path, accept);
        const base: Record<string, string> = accept === undefined ? {} : { accept };
        for (const condition of [tag, `W/${tag}`, `"other", ${tag}`, '*']) {
          for (const method of ['GET', 'HEAD']) {
            const r = await get(path, { ...base, 'if-none-match': condition }, method);
            assert.equal(r.status, 304, `${method} ${label(rep)} If-None-Match: ${condition}`);
            assert.equal(r.bytes.length, 0, 'no body');
            assert.equal(r.headers.etag, tag);
            assert.equal(r.headers['cache-control'], 'no-store');
            assert.equal(r.headers['x-content-type-options'], 'nosniff');
          }
        }
      }
    });

    it('§10.2 If-None-Match: * on a key that does not exist is 404, not 304 (RFC 9110: * matches an existing representation)', async () => {
      for (const method of ['GET', 'HEAD']) {
        const r = await get('/v1/secrets/app__NO_SUCH_KEY', { 'if-none-match': '*' }, method);
        assert.equal(r.status, 404, `${method}: ${r.body}`);
      }
    });

    it('§10.2 a tag that is not the current one for this representation → 200 with the body', async () => {
      const secretsTag = await tagOf('/v1/secrets');
      const keysTag = await tagOf('/v1/keys');
      const jsonTag = await tagOf('/v1/secrets/app__API_KEY');
      const cases: ReadonlyArray<readonly [string, Record<string, string>]> = [
        ['/v1/secrets', { 'if-none-match': keysTag }],
        ['/v1/keys', { 'if-none-match': secretsTag }],
        ['/v1/secrets/app__API_KEY', { 'if-none-match': jsonTag, accept: 'text/plain' }],
        ['/v1/secrets/payments__API_KEY', { 'if-none-match': jsonTag }],
        ['/v1/secrets', { 'if-none-match': '"not-a-tag"' }],
        ['/v1/secrets', { 'if-none-match': secretsTag.slice(1, -1) }],
      ];
      for (const [path, headers] of cases) {
        const r = await get(path, headers);
        assert.equal(r.status, 200, `${path} ${JSON.stringify(headers)}`);
        assert.ok(r.bytes.length > 0);
        assert.notEqual(r.headers.etag, headers['if-none-match']);
      }
      assert.deepEqual((await get('/v1/secrets', { 'if-none-match': keysTag })).json(), PAYLOAD);
    });

    it('§10.2 the token gate comes first: a matching condition without the right token is 401, never 304', async () => {
      const tag = await tagOf('/v1/secrets');
      for (const token of ['', 'wrong-token']) {
        const r = await get('/v1/secrets', { 'if-none-match': tag }, 'GET', token);
        assert.equal(r.status, 401);
        assertErrorBody(r, 401, 'unauthorized');
        assert.equal(r.headers.etag, undefined);
      }
    });

    it('§10.2 errors are unchanged: an unknown key is 404 without an ETag; an ambiguous bare key 409', async () => {
      const missing = await get('/v1/secrets/app__NOPE');
      assert.equal(missing.status, 404);
      assert.equal(missing.headers.etag, undefined);
      const ambiguous = await get('/v1/secrets/API_KEY');
      assert.equal(ambiguous.status, 409);
      assert.equal(ambiguous.headers.etag, undefined);
    });

    it('§10.2 ?wait must be whole seconds from 1 to 300 (400 invalid_wait, after the token); without If-None-Match it answers at once', async () => {
      for (const q of ['wait=0', 'wait=301', 'wait=abc', 'wait=1.5', 'wait=-1', 'wait=', 'wait', 'wait=05', 'wait=1&wait=2', 'wait=1e2', 'wait=%31']) {
        const r = await get(`/v1/secrets?${q}`);
        assert.equal(r.status, 400, q);
        assertErrorBody(r, 400, 'invalid_wait');
        assert.equal((await get(`/v1/keys?${q}`, {}, 'GET', '')).status, 401, `${q}: the token is checked first`);
      }
      for (const q of ['wait=1', 'wait=300', 'other=1&wait=30']) {
        const r = await get(`/v1/secrets?${q}`);
        assert.equal(r.status, 200, q);
        assert.deepEqual(r.json(), PAYLOAD);
      }
    });

    it(`§10.2 ${mode === 'jit' ? 'JIT: a 304 runs no worker task (the serve-task counter stays put while a 200 moves it)' : 'cached: 304s and 200s run no worker task'}`, async () => {
      const tag = await tagOf('/v1/secrets');
      const keyTag = await tagOf('/v1/secrets/app__API_KEY', 'text/plain');
      const tasks = async (): Promise<number> => {
        const s = await scrape(ops);
        return value(s, 'clef_agent_pool_task_duration_seconds', { kind: 'serve' }) + value(s, 'clef_agent_pool_task_duration_seconds', { kind: 'serveBatch' });
      };
      const before = await tasks();
      for (let i = 0; i < 20; i++) {
        assert.equal((await get('/v1/secrets', { 'if-none-match': tag })).status, 304);
        assert.equal((await get('/v1/secrets/app__API_KEY', { 'if-none-match': keyTag, accept: 'text/plain' }, 'HEAD')).status, 304);
      }
      assert.equal(await tasks(), before, '40 answers of 304, no worker task');
      assert.equal((await get('/v1/secrets')).status, 200);
      assert.equal(
        await tasks(),
        mode === 'jit' ? before + 1 : before,
        mode === 'jit' ? 'a JIT 200 is one worker task' : 'cached mode never decrypts per request',
      );
    });
  });
}
