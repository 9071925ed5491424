/**
 * JIT mode passes the same black-box contract as cached mode (SPEC §5, §5.2): two
 * real agent processes on the SAME artifact file, one cached (CACHE_TTL=300), one JIT
 * (CACHE_TTL=0), must give identical status, headers (Date aside) and body bytes for every route,
 * key form, Accept variant, HEAD and gate. Each comparison also pins the expected status, so two
 * agents that were wrong in the same way would not pass.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentProcess, headerPairs, type HttpAnswer, request, type RequestOptions, suiteTempDirs } from '../kit/index.js';
import { TOKEN } from '../helpers/http-fixtures.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';

/** Nested: an ambiguous bare key (API_KEY), `__proto__`/`constructor` as keys and namespaces, and values that need JSON escaping. */
const NESTED = `{"app":{"API_KEY":"nested-app-api-\u26a1","DATABASE_URL":"postgres://u:p@h/db?q=\\"x\\"&y=<>","__proto__":"app-proto-value","constructor":"app-ctor-value","MULTI":"line1\\nline2\\t\\u2028end \\ud83d\\udd11"},"payments":{"API_KEY":"payments-api","STRIPE_KEY":"sk_contract_1"},"__proto__":{"polluted":"proto-ns-value","toString":"proto-ns-tostring"},"constructor":{"prototype":"ctor-ns-prototype"}}`;
/** Flat, packed ASCII-armored, with a value that spans several 64 KiB age chunks. */
const FLAT = `{"API_KEY":"flat-api","__proto__":"flat-proto","constructor":"flat-ctor","EMPTY":"","hasOwnProperty":"flat-hop","BIG":"${'big-'.repeat(40_000)}"}`;

/** [path, expected status]. Every path is asked with GET and HEAD, JSON and text/plain. */
const NESTED_PATHS: [string, number][] = [
  ['/v1/secrets', 200],
  ['/v1/keys', 200],
  ['/v1/secrets/app__API_KEY', 200],
  ['/v1/secrets/app/API_KEY', 200],
  ['/v1/secrets/app%2FAPI_KEY', 200],
  ['/v1/secrets/app%2fAPI_KEY', 200],
  ['/v1/secrets/DATABASE_URL', 200],
  ['/v1/secrets/MULTI', 200],
  ['/v1/secrets/API_KEY', 409],
  ['/v1/secrets/NOPE', 404],
  ['/v1/secrets/app/NOPE', 404],
  ['/v1/secrets/app____proto__', 200],
  ['/v1/secrets/app/__proto__', 200],
  ['/v1/secrets/__proto__', 200],
  ['/v1/secrets/__proto__/polluted', 200],
  ['/v1/secrets/__proto____polluted', 200],
  ['/v1/secrets/constructor', 200],
  ['/v1/secrets/constructor/prototype', 200],
  ['/v1/secrets/toString', 200],
  ['/v1/secrets/prototype', 200],
  ['/v1/secrets/hasOwnProperty', 404],
  ['/v1/secrets/valueOf', 404],
  ['/v1/keys?x=1', 200],
];
const FLAT_PATHS: [string, number][] = [
  ['/v1/secrets', 200],
  ['/v1/keys', 200],
  ['/v1/secrets/API_KEY', 200],
  ['/v1/secrets/__proto__', 200],
  ['/v1/secrets/constructor', 200],
  ['/v1/secrets/hasOwnProperty', 200],
  ['/v1/secrets/EMPTY', 200],
  ['/v1/secrets/BIG', 200],
  ['/v1/secrets/app/API_KEY', 404],
  ['/v1/secrets/toString', 404],
  ['/v1/secrets/NOPE', 404],
];
const ACCEPTS: (Record<string, string> | undefined)[] = [
  undefined,
  { accept: 'text/plain' },
  { accept: 'text/plain;q=0.5, application/json' },
  { accept: 'text/*' },
];

/** Stands for `127.0.0.1:<the agent's port + 1>`, filled in per agent. */
const OTHER_PORT_HOST = '127.0.0.1:$OTHER';

/** Gates (SPEC §5 order): [what, path, options, expected status]. */
function gates(authorized: [string, number][]): [string, string, RequestOptions, number][] {
  const out: [string, string, RequestOptions, number][] = [];
  for (const [path, ok] of authorized) {
    out.push(['no token', path, { token: '' }, 401]);
    out.push(['wrong token', path, { token: `${TOKEN.slice(0, -1)}0` }, 401]);
    out.push(['short token', path, { token: 'abc' }, 401]);
    out.push(['other scheme', path, { headers: { authorization: `Basic ${TOKEN}` } }, 401]);
    out.push(['lower-case scheme', path, { headers: { authorization: `bearer ${TOKEN}` } }, ok]);
    out.push(['foreign Host', path, { headers: { host: 'evil.example' } }, 403]);
    out.push(['Host with another port', path, { headers: { host: OTHER_PORT_HOST } }, 403]);
    out.push(['X-Forwarded-For', path, { headers: { 'x-forwarded-for': '10.0.0.1' } }, 400]);
    out.push(['Forwarded', path, { headers: { forwarded: 'for=10.0.0.1' } }, 400]);
    out.push(['POST', path, { method: 'POST' }, 405]);
    out.push(['DELETE without token', path, { method: 'DELETE', token: '' }, 405]);
    out.push(['OPTIONS', path, { method: 'OPTIONS' }, 405]);
  }
  for (const path of ['/v1/nope', '/v1/secrets/a/b/c', '/v1/secrets/', '/v1/secrets//x', '/v1/secret', '/', '/v1/secrets/%E0%A4%A']) {
    out.push(['unknown route', path, {}, 404]);
    out.push(['unknown route, no token', path, { token: '' }, 404]);
  }
  out.push(['ready', '/v1/ready', { token: '' }, 200]);
  out.push(['ready HEAD', '/v1/ready', { token: '', method: 'HEAD' }, 200]);
  out.push(['ready POST', '/v1/ready', { method: 'POST' }, 405]);
  out.push(['health POST', '/v1/health', { method: 'PUT' }, 405]);
  out.push(['health foreign Host', '/v1/health', { headers: { host: 'localhost.evil' } }, 403]);
  out.push(['health proxied', '/v1/health', { headers: { 'x-forwarded-for': '1.1.1.1' } }, 400]);
  return out;
}

interface Pair {
  readonly cached: AgentProcess;
  readonly jit: AgentProcess;
}

async function startPair(payloadJson: string, dir: string, name: string, armor = false): Promise<Pair> {
  const key = await ageKeyPair();
  const path = join(dir, `${name}.json`);
  writeFileSync(path, await artifactJson({ recipient: key.recipient, payload: payloadJson, revision: `rev-${name}`, armor }));
  const env = (ttl: string): Record<string, string> => ({
    CLEF_AGENT_SOURCE: path,
    CLEF_AGENT_AGE_KEY: key.identity,
    CLEF_AGENT_TOKEN: TOKEN,
    CLEF_AGENT_WORKERS: '1',
    CLEF_AGENT_CACHE_TTL: ttl,
  });
  const cached = new AgentProcess(env('300'));
  const jit = new AgentProcess(env('0'));
  await Promise.all([cached.ready(), jit.ready()]);
  return { cached, jit };
}

function ask(a: AgentProcess, path: string, o: RequestOptions): Promise<HttpAnswer> {
  // The port-bearing Host is the default; a test-given Host wins. The token is the shared one unless given.
  return request(a.port, path, { token: TOKEN, ...o, headers: { ...o.headers } });
}

/** The same request to both agents: identical status, headers except Date, and body bytes. */
async function assertSame(p: Pair, what: string, path: string, o: RequestOptions, status: number): Promise<HttpAnswer> {
  // The default Host names each agent's own port; OTHER_PORT_HOST another one, per agent.
  const hostFor = (a: AgentProcess): RequestOptions =>
    o.headers?.['host'] !== OTHER_PORT_HOST ? o : { ...o, headers: { ...o.headers, host: `127.0.0.1:${a.port + 1}` } };
  const [c, j] = await Promise.all([ask(p.cached, path, hostFor(p.cached)), ask(p.jit, path, hostFor(p.jit))]);
  const label = `${what}: ${o.method ?? 'GET'} ${path} ${JSON.stringify(o.headers ?? {})}`;
  assert.equal(c.status, status, `${label}: cached status ${c.status} ${c.body}`);
  assert.equal(j.status, c.status, `${label}: JIT status ${j.status} ${j.body} vs cached ${c.status}`);
  assert.deepEqual(headerPairs(j), headerPairs(c), `${label}: headers differ`);
  assert.ok(j.bytes.equals(c.bytes), `${label}: body bytes differ\n cached ${c.body}\n jit    ${j.body}`);
  return c;
}

async function assertRoutesSame(p: Pair, paths: [string, number][]): Promise<number> {
  let n = 0;
  for (const [path, status] of paths) {
    for (const accept of ACCEPTS) {
      for (const method of ['GET', 'HEAD']) {
        const r = await assertSame(p, 'route', path, { method, ...(accept ? { headers: accept } : {}) }, status);
        if (method === 'HEAD') assert.equal(r.body.length, 0, 'HEAD has no body');
        n++;
      }
    }
  }
  return n;
}

describe('JIT mode passes the same black-box contract as cached mode (SPEC §5, §5.2)', { timeout: 120_000 }, () => {
  const dir = suiteTempDirs('clef-jit-contract-').make();
  let nested: Pair | undefined;
  let flat: Pair | undefined;

  before(async () => {
    [nested, flat] = await Promise.all([startPair(NESTED, dir, 'nested'), startPair(FLAT, dir, 'flat', true)]);
  });
  after(async () => {
    await Promise.all([nested?.cached, nested?.jit, flat?.cached, flat?.jit].map((a) => (a ? a.stop() : Promise.resolve(null))));
  });

  it('JIT §5.2 /v1/health reports mode "jit" (cached reports "cached") with the same revision and fields', { timeout: 60_000 }, async () => {
    for (const p of [nested, flat] as Pair[]) {
      const c = (await ask(p.cached, '/v1/health', { token: '' })).json<Record<string, unknown>>();
      const j = (await ask(p.jit, '/v1/health', { token: '' })).json<Record<string, unknown>>();
      assert.equal(c['mode'], 'cached');
      assert.equal(j['mode'], 'jit');
      assert.equal(j['status'], 'ok');
      assert.equal(j['expired'], false);
      assert.equal(j['revision'], c['revision']);
      assert.equal(typeof j['lastRefreshAt'], 'number');
      assert.equal(j['keys'], c['keys']);
      assert.deepEqual(Object.keys(j).sort(), Object.keys(c).sort());
    }
  });

  it(
    'JIT §5 nested payload: /v1/secrets, /v1/keys and every key form give identical status, headers and body bytes (GET, HEAD, Accept variants)',
    { timeout: 60_000 },
    async () => {
      const p = nested as Pair;
      const n = await assertRoutesSame(p, NESTED_PATHS);
      assert.equal(n, NESTED_PATHS.length * ACCEPTS.length * 2);
      // Spot-check the shared answers are the right ones, not merely equal.
      const all = await ask(p.jit, '/v1/secrets', {});
      assert.deepEqual(JSON.parse(all.body), JSON.parse(NESTED), 'the payload as packed');
      const ambiguous = (await ask(p.jit, '/v1/secrets/API_KEY', {})).json<Record<string, unknown>>();
      assert.deepEqual(ambiguous['candidates'], ['app__API_KEY', 'payments__API_KEY']);
      assert.equal(ambiguous['reason'], 'ambiguous_key');
      const proto = await ask(p.jit, '/v1/secrets/__proto__/polluted', { headers: { accept: 'text/plain' } });
      assert.equal(proto.body, 'proto-ns-value');
      assert.match(String(proto.headers['content-type']), /^text\/plain/);
      const keys = (await ask(p.jit, '/v1/keys', {})).json<string[]>();
      assert.deepEqual(keys, [...keys].sort());
      assert.ok(keys.includes('app____proto__') && keys.includes('constructor__prototype'));
    },
  );

  it('JIT §5 flat payload: every route and key form gives identical status, headers and body bytes', { timeout: 60_000 }, async () => {
    const p = flat as Pair;
    await assertRoutesSame(p, FLAT_PATHS);
    const empty = await ask(p.jit, '/v1/secrets/EMPTY', { headers: { accept: 'text/plain' } });
    assert.equal(empty.status, 200);
    assert.equal(empty.body.length, 0);
    assert.equal(empty.headers['content-length'], '0');
    assert.deepEqual((await ask(p.jit, '/v1/secrets/__proto__', {})).json(), { key: '__proto__', value: 'flat-proto' });
  });

  it('JIT §5 gates: 401/403/400/405/404 (and ready) answer identically in both modes, in the same order', { timeout: 60_000 }, async () => {
    const cases: [Pair, [string, number][]][] = [
      [
        nested as Pair,
        [
          ['/v1/secrets', 200],
          ['/v1/keys', 200],
          ['/v1/secrets/app__API_KEY', 200],
          ['/v1/secrets/API_KEY', 409],
          ['/v1/secrets/NOPE', 404],
        ],
      ],
      [
        flat as Pair,
        [
          ['/v1/secrets', 200],
          ['/v1/keys', 200],
          ['/v1/secrets/API_KEY', 200],
          ['/v1/secrets/app__API_KEY', 404],
        ],
      ],
    ];
    for (const [p, authorized] of cases) {
      for (const [what, path, o, status] of gates(authorized)) {
        const r = await assertSame(p, what, path, o, status);
        if (status === 405) assert.equal(r.headers['allow'], 'GET, HEAD');
        if (status === 401) assert.ok(!('candidates' in r.json<object>()), 'no data before auth');
      }
    }
  });

  it('JIT §5.1 secrets routes carry Cache-Control: no-store and nosniff, no CORS headers, like cached mode', { timeout: 60_000 }, async () => {
    for (const path of ['/v1/secrets', '/v1/keys', '/v1/secrets/app__API_KEY']) {
      const r = await ask((nested as Pair).jit, path, {});
      assert.equal(r.headers['cache-control'], 'no-store');
      assert.equal(r.headers['x-content-type-options'], 'nosniff');
      assert.ok(!Object.keys(r.headers).some((h) => h.startsWith('access-control-')));
    }
  });
});
