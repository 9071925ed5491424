/**
 * The route table (src/http/routes.ts) directly: which request targets name which route and key,
 * and which are not routes at all (path tricks: doubled or trailing slashes, encoded slashes, bad
 * percent-encoding). Then the server's order around it — route, method, token — on a real
 * in-process server with a stub mode, so no agent, worker or artifact is involved.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { TokenGuard } from '../../src/http/auth.js';
import { ALLOWED_METHODS, matchRoute, type RouteMatch } from '../../src/http/routes.js';
import { ChangeNotifier } from '../../src/http/notify.js';
import { startServer, type RunningServer } from '../../src/http/server.js';
import { realTimers } from '../../src/refresh/timers.js';
import type { Body, ServingMode } from '../../src/serving/mode.js';
import { capturedLog } from './refresh-rig.js';

describe('matchRoute', () => {
  test('the four fixed routes, and which need the token', () => {
    const fixed: Array<[string, RouteMatch]> = [
      ['/v1/health', { name: 'health', auth: false }],
      ['/v1/ready', { name: 'ready', auth: false }],
      ['/v1/secrets', { name: 'secrets', auth: true }],
      ['/v1/keys', { name: 'keys', auth: true }],
    ];
    for (const [target, route] of fixed) assert.deepEqual(matchRoute(target), route, target);
  });

  test('a query string is ignored', () => {
    assert.equal(matchRoute('/v1/health?verbose=1')?.name, 'health');
    assert.equal(matchRoute('/v1/secrets?')?.name, 'secrets');
    assert.deepEqual(matchRoute('/v1/secrets/app__KEY?x=/y'), { name: 'secret', auth: true, key: 'app__KEY' });
  });

  test('key paths: KEY, ns__KEY, ns/KEY as two segments or with an encoded slash, percent-decoded', () => {
    const keys: Array<[string, string]> = [
      ['/v1/secrets/KEY', 'KEY'],
      ['/v1/secrets/app__KEY', 'app__KEY'],
      ['/v1/secrets/app/KEY', 'app/KEY'],
      ['/v1/secrets/app%2FKEY', 'app/KEY'],
      ['/v1/secrets/app%2fKEY', 'app/KEY'],
      ['/v1/secrets/a%20b', 'a b'],
      ['/v1/secrets/caf%C3%A9', 'café'],
      // Dot segments are not special: they are key names like any other (and found in no payload).
      ['/v1/secrets/..', '..'],
      ['/v1/secrets/%2e%2e', '..'],
      ['/v1/secrets/app/..', 'app/..'],
    ];
    for (const [target, key] of keys) assert.deepEqual(matchRoute(target), { name: 'secret', auth: true, key }, target);
  });

  test('not routes: case, doubled and trailing slashes, extra segments, encoded slashes at the edges, bad encoding', () => {
    const none = [
      '',
      '/',
      '/v1',
      '/v1/',
      '/V1/health',
      '/v1/HEALTH',
      '/v1/health/',
      '/v1/keys/',
      '/v1/secrets/',
      '//v1/secrets',
      '/v1//secrets',
      '//v1/health',
      '/v1/secrets//KEY',
      '/v1/secrets/app/',
      '/v1/secrets/app//KEY',
      '/v1/secrets/a/b/c',
      '/v1/secrets/%2FKEY',
      '/v1/secrets/app%2F',
      '/v1/secrets/a%2Fb/c',
      '/v1/secrets/a%2Fb%2Fc',
      '/v1/secrets%2FKEY',
      '/v1/secrets/%ZZ',
      '/v1/secrets/%',
      '/v1/secrets/%C3',
      '/v1/health#top',
      'http://127.0.0.1/v1/health',
      '*',
    ];
    for (const target of none) assert.equal(matchRoute(target), undefined, JSON.stringify(target));
  });
});

/** A mode that answers every route with a body naming it (and the key it was asked for). */
const STUB: ServingMode = {
  name: 'cached',
  health: () => ({ status: 'ok' }),
  ready: () => ({ ready: true }),
  secrets: () => json({ route: 'secrets' }),
  keys: () => json({ route: 'keys' }),
  secret: (name, { plain }) => json({ route: 'secret', name, plain }),
  servableHash: () => undefined,
};

function json(v: unknown): Body {
  return { contentType: 'application/json', bytes: Buffer.from(JSON.stringify(v)) };
}

const TOKEN = 'tok_0123456789abcdefghijklmnopqrstuvwxyzAB';

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

describe('the server around the route table (stub mode)', () => {
  let server: RunningServer;

  before(async () => {
    const notify = new ChangeNotifier({ mode: STUB, maxWaiters: 8, clock: Date.now, timers: realTimers });
    server = await startServer({ port: 0, maxConnections: 64, mode: STUB, notify, guard: new TokenGuard(TOKEN), log: capturedLog().log });
  });
  after(() => server.close());

  /** `token: null` sends no Authorization header. */
  function request(path: string, method = 'GET', token: string | null = TOKEN): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = token === null ? {} : { authorization: `Bearer ${token}` };
      const req = http.request({ host: '127.0.0.1', port: server.port, path, method, headers, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      });
      req.on('error', reject);
      req.end();
    });
  }

  test('every route answers GET and HEAD (HEAD without a body, same length)', async () => {
    for (const path of ['/v1/health', '/v1/ready', '/v1/secrets', '/v1/keys', '/v1/secrets/app__KEY']) {
      const get = await request(path);
      assert.equal(get.status, 200, path);
      const head = await request(path, 'HEAD');
      assert.equal(head.status, 200, path);
      assert.equal(head.body, '');
      assert.equal(head.headers['content-length'], String(Buffer.byteLength(get.body)), path);
    }
  });

  test('other methods on a route: 405 with Allow, decided before the token', async () => {
    for (const path of ['/v1/health', '/v1/ready', '/v1/secrets', '/v1/keys', '/v1/secrets/app__KEY']) {
      for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
        const r = await request(path, method, null);
        assert.equal(r.status, 405, `${method} ${path}`);
        assert.equal(r.headers['allow'], ALLOWED_METHODS);
        assert.equal(ALLOWED_METHODS, 'GET, HEAD');
        assert.deepEqual(JSON.parse(r.body), { error: 'method not allowed', reason: 'method_not_allowed' });
      }
    }
  });

  test('an unknown path is 404 whatever the method, before the token is checked', async () => {
    for (const [path, method] of [
      ['/v1/nope', 'GET'],
      ['/v1/nope', 'POST'],
      ['//v1/secrets', 'GET'],
      ['/v1/secrets/', 'GET'],
      ['/v1/secrets/a/b/c', 'DELETE'],
    ] as const) {
      const r = await request(path, method, null);
      assert.equal(r.status, 404, `${method} ${path}`);
      assert.deepEqual(JSON.parse(r.body), { error: 'not found', reason: 'not_found' });
      assert.equal(r.headers['allow'], undefined);
    }
  });

  test('the key the mode is asked for is the decoded one; the token guards secrets routes only', async () => {
    assert.deepEqual(JSON.parse((await request('/v1/secrets/app%2FKEY')).body), { route: 'secret', name: 'app/KEY', plain: false });
    assert.deepEqual(JSON.parse((await request('/v1/secrets/app/KEY?x=1')).body), { route: 'secret', name: 'app/KEY', plain: false });
    assert.equal((await request('/v1/secrets/app%2FKEY', 'GET', null)).status, 401);
    assert.equal((await request('/v1/keys', 'GET', 'wrong')).status, 401);
    assert.equal((await request('/v1/health', 'GET', null)).status, 200);
    assert.equal((await request('/v1/ready', 'GET', null)).status, 200);
  });
});
