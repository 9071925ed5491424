import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import type { FetchPolicy, LoadTask, TaskFailure } from '../../common/protocol.js';
import { fetchHttp } from '../../workers/fetch/http.js';
import type { HttpDeps } from '../../workers/fetch/policy.js';
import type { FetchOutcome } from '../../workers/fetch/types.js';
import { runTask } from '../../workers/index.js';
import { ageKeygen, ageLibEncrypt, makeArtifact, NOW_MS } from './helpers.js';

const CAP = 64 * 1024;
const policy: FetchPolicy = { timeoutMs: 3000, maxBytes: CAP, retries: 2, allowHttp: false };
const noSleep: HttpDeps = { sleep: () => Promise.resolve() };

let server: Server;
let base: string;
let port: number;
const hits = new Map<string, number>();
const seen = new Map<string, IncomingMessage['headers']>();
let tlsAttempts = 0;
let artifactJson = '';
let identity = '';

function route(req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://x').pathname;
  const n = (hits.get(path) ?? 0) + 1;
  hits.set(path, n);
  seen.set(path, req.headers);
  const send = (status: number, body = '', headers: Record<string, string> = {}): void => {
    res.writeHead(status, headers);
    res.end(body);
  };
  switch (path) {
    case '/artifact':
      if (req.headers['if-none-match'] === '"v1"') return send(304, '', { etag: '"v1"' });
      return send(200, artifactJson, { etag: '"v1"', 'content-type': 'application/json' });
    case '/artifact.gz':
      return send(200, gzipSync(Buffer.from(artifactJson)) as unknown as string, { 'content-encoding': 'gzip', etag: '"gz"' });
    case '/401':
    case '/403':
    case '/404':
      return send(Number(path.slice(1)));
    case '/403-ratelimit':
      return send(403, '', { 'x-ratelimit-remaining': '0' });
    case '/429':
      return send(429, '', { 'retry-after': '0' });
    case '/500-then-ok':
      return n === 1 ? send(500) : send(200, 'fine', { etag: '"after500"' });
    case '/500-always':
      return send(503);
    case '/hang':
      return; // never answers
    case '/big':
      return send(200, 'x'.repeat(CAP + 1));
    case '/big-chunked':
      res.writeHead(200);
      for (let i = 0; i < 20; i++) res.write('y'.repeat(8192));
      return void res.end();
    case '/big-gzip':
      return send(200, gzipSync(Buffer.alloc(CAP * 50)) as unknown as string, { 'content-encoding': 'gzip' });
    case '/redirect-https-same':
      return send(302, '', { location: `https://127.0.0.1:${port}/artifact` });
    case '/redirect-other-host':
      return send(302, '', { location: `https://other.example/artifact` });
    case '/redirect-http':
      return send(301, '', { location: `/artifact` });
    case '/redirect-userinfo':
      return send(307, '', { location: `https://evil:pw@127.0.0.1:${port}/artifact` });
    case '/basic':
      return req.headers.authorization === `Basic ${Buffer.from('user:p@ss').toString('base64')}` ? send(200, 'authed') : send(401);
    default:
      return send(404);
  }
}

before(async () => {
  const pair = ageKeygen();
  identity = pair.identity;
  artifactJson = JSON.stringify(makeArtifact(await ageLibEncrypt('{"app":{"K":"v"}}', pair.recipient)));
  server = createServer(route);
  // A TLS ClientHello on this plain-HTTP port shows up as a client error: proof we tried https.
  server.on('clientError', (_err, socket) => {
    tlsAttempts++;
    socket.destroy();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

function assertFail(r: FetchOutcome | TaskFailure, code: string, status?: number): TaskFailure {
  assert.ok('ok' in r, `expected ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.code, code, r.message);
  if (status !== undefined) assert.equal(r.status, status);
  return r;
}

describe('HTTP fetch', () => {
  test('200 returns the bytes and the ETag; a matching If-None-Match gets 304 → unchanged', async () => {
    const r = await fetchHttp(`${base}/artifact`, policy, undefined);
    assert.ok(!('ok' in r) && r.kind === 'bytes');
    assert.equal(Buffer.from(r.bytes).toString(), artifactJson);
    assert.equal(r.marker, '"v1"');
    const again = await fetchHttp(`${base}/artifact`, policy, '"v1"');
    assert.deepEqual(again, { kind: 'unchanged', marker: '"v1"' });
    assert.equal(seen.get('/artifact')?.['if-none-match'], '"v1"');
  });

  test('the load task loads over HTTP, then reports unchanged on 304', async () => {
    const task: LoadTask = { type: 'load', mode: 'cached', source: { kind: 'http', url: `${base}/artifact` }, fetch: policy, validation: { nowMs: NOW_MS } };
    const init = { ageKey: { kind: 'inline' as const, bytes: Buffer.from(identity) } };
    const first = await runTask(task, init);
    assert.ok(first.ok && 'outcome' in first && first.outcome === 'loaded', JSON.stringify(first));
    assert.equal(first.marker, '"v1"');
    const second = await runTask({ ...task, marker: first.marker, bytesHash: first.bytesHash }, init);
    assert.deepEqual(second, { ok: true, outcome: 'unchanged', marker: '"v1"' });
  });

  test('gzip is decompressed', async () => {
    const r = await fetchHttp(`${base}/artifact.gz`, policy, undefined);
    assert.ok(!('ok' in r) && r.kind === 'bytes');
    assert.equal(Buffer.from(r.bytes).toString(), artifactJson);
  });

  test('401, 403 and 404 are fetch_status with the status, and are not retried', async () => {
    for (const s of [401, 403, 404]) {
      const f = assertFail(await fetchHttp(`${base}/${s}`, policy, undefined, noSleep), 'fetch_status', s);
      assert.match(f.message, new RegExp(`HTTP ${s}`));
      assert.equal(hits.get(`/${s}`), 1);
    }
  });

  test('500 is retried, then the success is returned', async () => {
    // Real backoff here (200 ms + jitter): one test proves the default sleeper works.
    const r = await fetchHttp(`${base}/500-then-ok`, policy, undefined);
    assert.ok(!('ok' in r) && r.kind === 'bytes');
    assert.equal(r.marker, '"after500"');
    assert.equal(hits.get('/500-then-ok'), 2);
  });

  test('persistent 5xx, 429 and rate-limited 403 use every retry and then fail', async () => {
    for (const [path, status] of [
      ['/500-always', 503],
      ['/429', 429],
      ['/403-ratelimit', 403],
    ] as const) {
      assertFail(await fetchHttp(`${base}${path}`, policy, undefined, noSleep), 'fetch_status', status);
      assert.equal(hits.get(path), 1 + policy.retries, path);
    }
  });

  test('a hanging server is fetch_timeout', async () => {
    const f = assertFail(await fetchHttp(`${base}/hang`, { ...policy, timeoutMs: 200, retries: 1 }, undefined, noSleep), 'fetch_timeout');
    assert.match(f.message, /200 ms/);
    assert.equal(hits.get('/hang'), 2);
  });

  test('bodies over the cap are too_large: declared, chunked, and gzip-bombed', async () => {
    for (const path of ['/big', '/big-chunked', '/big-gzip']) {
      const f = assertFail(await fetchHttp(`${base}${path}`, policy, undefined, noSleep), 'too_large');
      assert.match(f.message, new RegExp(`${CAP}-byte cap`));
      assert.equal(hits.get(path), 1, `${path} must not be retried`);
    }
  });

  test('a redirect to https on the same host is followed (here it then fails the TLS handshake)', async () => {
    const before = tlsAttempts;
    const f = assertFail(await fetchHttp(`${base}/redirect-https-same`, { ...policy, retries: 0 }, undefined), 'fetch_failed');
    assert.match(f.message, /https:\/\/127\.0\.0\.1/);
    assert.ok(tlsAttempts > before, 'the redirect target was contacted over TLS');
  });

  test('redirects to another host, to plain http, or carrying credentials are forbidden_redirect', async () => {
    for (const path of ['/redirect-other-host', '/redirect-http', '/redirect-userinfo']) {
      const f = assertFail(await fetchHttp(`${base}${path}`, policy, undefined, noSleep), 'forbidden_redirect');
      assert.doesNotMatch(f.message, /pw/);
      assert.equal(hits.get(path), 1);
    }
  });

  test('URL userinfo becomes Basic auth and never appears in messages', async () => {
    const r = await fetchHttp(`http://user:p%40ss@127.0.0.1:${port}/basic`, policy, undefined);
    assert.ok(!('ok' in r) && r.kind === 'bytes');
    assert.equal(Buffer.from(r.bytes).toString(), 'authed');
    const f = assertFail(await fetchHttp(`http://user:s3cret@127.0.0.1:${port}/404?token=abc`, policy, undefined), 'fetch_status', 404);
    assert.ok(f.message.includes(`http://127.0.0.1:${port}/404?***`), f.message);
    assert.doesNotMatch(f.message, /s3cret|abc|user/);
    const i = assertFail(await fetchHttp('http://user:s3cret@example.com/a.json', policy, undefined), 'insecure_source');
    assert.ok(i.message.startsWith('http://***@example.com/a.json'), i.message);
    assert.doesNotMatch(i.message, /s3cret/);
  });

  test('link-local literal IPs are refused before connecting', async () => {
    const open = { ...policy, allowHttp: true, timeoutMs: 60_000 };
    for (const url of [
      'http://169.254.169.254/latest/meta-data/',
      'https://169.254.170.2/v2/credentials',
      'http://[fe80::1]/',
      'http://[::ffff:169.254.169.254]/',
      'http://[fd00:ec2::254]/',
      'http://[64:ff9b::a9fe:a9fe]/',
      'http://[2002:a9fe:a9fe::]/',
      'http://[::a9fe:a9fe]/',
    ]) {
      assertFail(await fetchHttp(url, open, undefined), 'forbidden_address');
    }
  });

  test('a hostname that resolves to a link-local address is refused at lookup', async () => {
    const calls: string[] = [];
    const resolve: HttpDeps['resolve'] = (host, _o, cb) => {
      calls.push(host);
      cb(
        null,
        host === 'metadata.test'
          ? [
              { address: '127.0.0.1', family: 4 },
              { address: '169.254.169.254', family: 4 },
            ]
          : [{ address: '127.0.0.1', family: 4 }],
      );
    };
    const f = assertFail(
      await fetchHttp(`http://metadata.test:${port}/artifact`, { ...policy, allowHttp: true }, undefined, { resolve, ...noSleep }),
      'forbidden_address',
    );
    assert.doesNotMatch(f.message, /retry/);
    // The same injected resolver pointing at loopback reaches the server: the guard is the resolver.
    const ok = await fetchHttp(`http://service.test:${port}/artifact`, { ...policy, allowHttp: true }, undefined, { resolve });
    assert.ok(!('ok' in ok) && ok.kind === 'bytes');
    assert.deepEqual(calls, ['metadata.test', 'service.test']);
  });

  test('a verify key allows plain http only without credentials: userinfo and signed queries still need ALLOW_HTTP', async () => {
    // service.test resolves to this server but is not a loopback name, so the plain-http rule applies.
    const resolve: HttpDeps['resolve'] = (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
    const verified: FetchPolicy = { ...policy, allowHttpWithoutCredentials: true };
    const before = hits.get('/basic') ?? 0;
    const plain = await fetchHttp(`http://service.test:${port}/artifact`, verified, undefined, { resolve });
    assert.ok(!('ok' in plain) && plain.kind === 'bytes', 'a credential-free URL is fetched');
    for (const url of [
      `http://user:p%40ss@service.test:${port}/basic`,
      `http://service.test:${port}/basic?X-Amz-Signature=abc&X-Amz-Credential=AKID`,
      `http://service.test:${port}/basic?x-amz-security-token=tok`,
      `http://service.test:${port}/basic?X-Goog-Signature=abc`,
      `http://service.test:${port}/basic?sv=2024&sig=abc`,
      `http://service.test:${port}/basic?access_token=abc`,
    ]) {
      const f = assertFail(await fetchHttp(url, verified, undefined, { resolve }), 'insecure_source');
      assert.match(f.message, /carries credentials: set CLEF_AGENT_ALLOW_HTTP=true/, url);
      assert.doesNotMatch(f.message, /p%40ss|abc|tok/);
    }
    assert.equal(hits.get('/basic') ?? 0, before, 'no credentialed request reached the server');
    // CLEF_AGENT_ALLOW_HTTP=true lifts the rule for credentials too.
    const open = await fetchHttp(`http://user:p%40ss@service.test:${port}/basic`, { ...policy, allowHttp: true }, undefined, { resolve });
    assert.ok(!('ok' in open) && open.kind === 'bytes' && Buffer.from(open.bytes).toString() === 'authed');
  });

  test('plain http to a non-loopback host is insecure_source unless allowed', async () => {
    assertFail(await fetchHttp('http://example.com/a.json', policy, undefined), 'insecure_source');
    assertFail(await fetchHttp('ftp://example.com/a.json', policy, undefined), 'insecure_source');
  });

  test('a refused connection is fetch_failed after its retries', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    const dead = (s.address() as AddressInfo).port;
    await new Promise((r) => s.close(r));
    const f = assertFail(await fetchHttp(`http://127.0.0.1:${dead}/`, policy, undefined, noSleep), 'fetch_failed');
    assert.match(f.message, /ECONNREFUSED/);
  });
});
