/**
 * The VCS fetchers in-process against local servers reproducing each provider's documented
 * answers: request shape (paths, encoding, auth headers, refs), raw and JSON-base64 content,
 * ETag/304, error statuses, and rate limits respected rather than hammered. Tokens never appear
 * in a failure message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FetchPolicy, TaskFailure, VcsSourceSpec } from '../../common/protocol.js';
import { MAX_RETRY_AFTER_MS } from '../../common/limits.js';
import type { FetchOutcome } from '../../workers/fetch/types.js';
import { fetchVcs } from '../../workers/fetch/vcs/index.js';
import { answer, VcsServer, type Provider } from '../../emulators/vcs-servers.js';

const policy: FetchPolicy = { timeoutMs: 5000, maxBytes: 4 * 1024 * 1024, retries: 2, allowHttp: false };
const PATH = '.clef/packed/api/production.age.json';
const ARTIFACT = '{"version":1,"identity":"api","environment":"production"}';
const TOKENS: Record<Provider, string> = { github: 'ghp_GithubTokenSecret0001', gitlab: 'glpat-GitlabTokenSecret02', bitbucket: 'BbTokenSecret0003' };
const REPOS: Record<Provider, string> = { github: 'acme/secrets', gitlab: 'acme/platform/secrets', bitbucket: 'acme/secrets' };

const servers = {} as Record<Provider, VcsServer>;
before(async () => {
  for (const p of ['github', 'gitlab', 'bitbucket'] as const) {
    servers[p] = await new VcsServer(p, TOKENS[p], REPOS[p]).start();
    servers[p].put(PATH, ARTIFACT);
    servers[p].put(PATH, ARTIFACT.replace('production', 'release'), 'v1.2.3');
  }
});
after(() => Promise.all(Object.values(servers).map((s) => s.close())));

function spec(p: Provider, o: Partial<VcsSourceSpec> = {}): VcsSourceSpec {
  return { kind: 'vcs', provider: p, repo: REPOS[p], token: TOKENS[p], path: PATH, apiUrl: servers[p].apiUrl(), ...o };
}

/** Records backoff waits instead of sleeping: no wall-clock in these tests. */
function sleeper(): { sleep: (ms: number) => Promise<void>; waits: number[] } {
  const waits: number[] = [];
  return { waits, sleep: (ms) => (waits.push(ms), Promise.resolve()) };
}

function text(r: FetchOutcome | TaskFailure): string {
  assert.ok(!('ok' in r) && r.kind === 'bytes', JSON.stringify(r));
  return Buffer.from(r.bytes).toString('utf8');
}

function failed(r: FetchOutcome | TaskFailure, status?: number): TaskFailure {
  assert.ok('ok' in r, JSON.stringify(r));
  if (status !== undefined) assert.equal(r.status, status, r.message);
  for (const t of Object.values(TOKENS)) assert.ok(!r.message.includes(t), `token in message: ${r.message}`);
  return r;
}

describe('GitHub contents API', () => {
  test('raw media type, Bearer token, API version header, default ref (no ref parameter)', async () => {
    const s = servers.github;
    assert.equal(text(await fetchVcs(spec('github'), policy, undefined)), ARTIFACT);
    const req = s.requests.at(-1);
    assert.equal(req?.url, `/api/v3/repos/acme/secrets/contents/${PATH}`);
    assert.equal(req?.headers['authorization'], `Bearer ${TOKENS.github}`);
    assert.equal(req?.headers['accept'], 'application/vnd.github.raw');
    assert.equal(req?.headers['x-github-api-version'], '2022-11-28');
  });
  test('CLEF_AGENT_VCS_REF becomes ?ref=', async () => {
    assert.match(text(await fetchVcs(spec('github', { ref: 'v1.2.3' }), policy, undefined)), /release/);
    assert.equal(servers.github.requests.at(-1)?.url, `/api/v3/repos/acme/secrets/contents/${PATH}?ref=v1.2.3`);
  });
  test('the ETag is the marker: If-None-Match → 304 → unchanged', async () => {
    const first = await fetchVcs(spec('github'), policy, undefined);
    assert.ok(!('ok' in first) && first.marker !== undefined);
    const second = await fetchVcs(spec('github'), policy, first.marker);
    assert.deepEqual(second, { kind: 'unchanged', marker: first.marker });
    assert.equal(servers.github.requests.at(-1)?.headers['if-none-match'], first.marker);
  });
  test('a server answering the JSON object: base64 content is decoded', async () => {
    servers.github.githubJson = true;
    try {
      assert.equal(text(await fetchVcs(spec('github'), policy, undefined)), ARTIFACT);
    } finally {
      servers.github.githubJson = false;
    }
  });
  test('JSON object above the inline limit (encoding "none") is a clear failure, not an empty artifact', async () => {
    const big = `{"version":1,"pad":"${'x'.repeat(1024 * 1024 + 10)}"}`;
    servers.github.put('.clef/packed/big/production.age.json', big);
    servers.github.githubJson = true;
    try {
      const f = failed(await fetchVcs(spec('github', { path: '.clef/packed/big/production.age.json' }), policy, undefined));
      assert.equal(f.code, 'source_unreadable');
      assert.match(f.message, /inline limit/);
    } finally {
      servers.github.githubJson = false;
    }
    // With the raw media type the same large file comes back whole.
    assert.equal(text(await fetchVcs(spec('github', { path: '.clef/packed/big/production.age.json' }), policy, undefined)).length, big.length);
  });
  test('401 (bad token) and 404 are failures with their status, not retried, token never shown', async () => {
    const s = sleeper();
    failed(await fetchVcs(spec('github', { token: 'ghp_wrong' }), policy, undefined, s), 401);
    failed(await fetchVcs(spec('github', { path: '.clef/packed/none/x.age.json' }), policy, undefined, s), 404);
    assert.deepEqual(s.waits, []);
  });
  test('403 with x-ratelimit-remaining: 0 and a distant reset: one request, no retry, says rate limited', async () => {
    const s = sleeper();
    const before = servers.github.requests.length;
    const reset = String(Math.floor(Date.now() / 1000) + 3600);
    servers.github.overrides.push(answer(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }));
    const f = failed(await fetchVcs(spec('github'), policy, undefined, s), 403);
    assert.match(f.message, /rate limited/);
    assert.equal(servers.github.requests.length - before, 1);
    assert.deepEqual(s.waits, []);
  });
  test('403 without rate-limit headers is access denied: not retried', async () => {
    const s = sleeper();
    servers.github.overrides.push(answer(403));
    failed(await fetchVcs(spec('github'), policy, undefined, s), 403);
    assert.deepEqual(s.waits, []);
  });
  test('429 with a short Retry-After waits that long, then succeeds', async () => {
    const s = sleeper();
    servers.github.overrides.push(answer(429, { 'retry-after': '3' }));
    assert.equal(text(await fetchVcs(spec('github'), policy, undefined, s)), ARTIFACT);
    assert.equal(s.waits.length, 1);
    assert.ok((s.waits[0] ?? 0) >= 3000, String(s.waits[0]));
  });
  test(`429 with a Retry-After above ${MAX_RETRY_AFTER_MS / 1000} s fails the attempt at once (the poll comes back)`, async () => {
    const s = sleeper();
    const before = servers.github.requests.length;
    servers.github.overrides.push(answer(429, { 'retry-after': '120' }));
    const f = failed(await fetchVcs(spec('github'), policy, undefined, s), 429);
    assert.match(f.message, /wait 120 s/);
    assert.equal(servers.github.requests.length - before, 1);
    assert.deepEqual(s.waits, []);
  });
});

describe('GitLab repository files API', () => {
  test('url-encoded project and file path, PRIVATE-TOKEN, ref=HEAD by default', async () => {
    assert.equal(text(await fetchVcs(spec('gitlab'), policy, undefined)), ARTIFACT);
    const req = servers.gitlab.requests.at(-1);
    assert.equal(req?.url, '/api/v4/projects/acme%2Fplatform%2Fsecrets/repository/files/.clef%2Fpacked%2Fapi%2Fproduction.age.json/raw?ref=HEAD');
    assert.equal(req?.headers['private-token'], TOKENS.gitlab);
    assert.equal(req?.headers['authorization'], undefined);
  });
  test('a configured ref is sent as is', async () => {
    assert.match(text(await fetchVcs(spec('gitlab', { ref: 'v1.2.3' }), policy, undefined)), /release/);
    assert.match(servers.gitlab.requests.at(-1)?.url ?? '', /\?ref=v1\.2\.3$/);
  });
  test('ETag → 304 → unchanged', async () => {
    const first = await fetchVcs(spec('gitlab'), policy, undefined);
    assert.ok(!('ok' in first) && first.marker !== undefined);
    assert.deepEqual(await fetchVcs(spec('gitlab'), policy, first.marker), { kind: 'unchanged', marker: first.marker });
  });
  test('401 and 404 statuses; 429 with RateLimit-Remaining 0 and a reset an hour away is not retried', async () => {
    failed(await fetchVcs(spec('gitlab', { token: 'glpat-wrong' }), policy, undefined), 401);
    failed(await fetchVcs(spec('gitlab', { repo: 'acme/other' }), policy, undefined), 404);
    const s = sleeper();
    servers.gitlab.overrides.push(answer(429, { 'ratelimit-remaining': '0', 'ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600) }));
    failed(await fetchVcs(spec('gitlab'), policy, undefined, s), 429);
    assert.deepEqual(s.waits, []);
  });
  test('5xx is transient: retried with backoff, then served', async () => {
    const s = sleeper();
    servers.gitlab.overrides.push(answer(502));
    assert.equal(text(await fetchVcs(spec('gitlab'), policy, undefined, s)), ARTIFACT);
    assert.equal(s.waits.length, 1);
  });
});

describe('Bitbucket source API', () => {
  test('the main branch is looked up once, then the file is read from it with a Bearer token', async () => {
    const s = servers.bitbucket;
    const before = s.requests.length;
    assert.equal(text(await fetchVcs(spec('bitbucket'), policy, undefined)), ARTIFACT);
    assert.deepEqual(
      s.requests.slice(before).map((r) => r.url),
      ['/2.0/repositories/acme/secrets', `/2.0/repositories/acme/secrets/src/main/${PATH}`],
    );
    assert.equal(s.requests.at(-1)?.headers['authorization'], `Bearer ${TOKENS.bitbucket}`);
    // Remembered: the next poll is one request.
    const mark = s.requests.length;
    text(await fetchVcs(spec('bitbucket'), policy, undefined));
    assert.equal(s.requests.length - mark, 1);
  });
  test('a configured ref skips the lookup', async () => {
    const before = servers.bitbucket.requests.length;
    assert.match(text(await fetchVcs(spec('bitbucket', { ref: 'v1.2.3' }), policy, undefined)), /release/);
    assert.deepEqual(
      servers.bitbucket.requests.slice(before).map((r) => r.url),
      [`/2.0/repositories/acme/secrets/src/v1.2.3/${PATH}`],
    );
  });
  test('ETag → 304 → unchanged', async () => {
    const first = await fetchVcs(spec('bitbucket', { ref: 'main' }), policy, undefined);
    assert.ok(!('ok' in first) && first.marker !== undefined);
    assert.deepEqual(await fetchVcs(spec('bitbucket', { ref: 'main' }), policy, first.marker), { kind: 'unchanged', marker: first.marker });
  });
  test('user:app-password tokens are sent as Basic auth', async () => {
    servers.bitbucket.overrides.push((req, res) => {
      res.writeHead(req.headers['authorization'] === `Basic ${Buffer.from('deploy:AppPassw0rd').toString('base64')}` ? 200 : 401);
      res.end(ARTIFACT);
    });
    assert.equal(text(await fetchVcs(spec('bitbucket', { ref: 'main', token: 'deploy:AppPassw0rd' }), policy, undefined)), ARTIFACT);
  });
  test('401, 404 and 429 Retry-After beyond the bound', async () => {
    failed(await fetchVcs(spec('bitbucket', { ref: 'main', token: 'wrong' }), policy, undefined), 401);
    failed(await fetchVcs(spec('bitbucket', { ref: 'main', path: '.clef/packed/x/y.age.json' }), policy, undefined), 404);
    const s = sleeper();
    servers.bitbucket.overrides.push(answer(429, { 'retry-after': '3600' }));
    failed(await fetchVcs(spec('bitbucket', { ref: 'main' }), policy, undefined, s), 429);
    assert.deepEqual(s.waits, []);
  });
});
