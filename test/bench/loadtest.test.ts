/**
 * `clef-agent loadtest` against a real agent process on 127.0.0.1: the table is
 * printed, thresholds decide the exit code, and non-loopback targets are refused before any
 * request is sent. Assertions are on behaviour (exit codes, output), never on speed; every load is
 * a fraction of a second on two connections.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AgentProcess, MAIN, runNode, suiteTempDirs, type RunResult } from '../kit/index.js';
import { ageKeyPair, artifactJson, samplePayload } from '../helpers/artifacts.js';
import { judge } from '../../tools/loadtest/index.js';
import { loopbackUrl, parseLoadtestArgs, UsageError } from '../../tools/loadtest/args.js';

function loadtest(args: readonly string[], env: Record<string, string> = {}): Promise<RunResult> {
  return runNode(MAIN, ['loadtest', ...args], { env });
}

const QUICK = ['--duration', '0.5', '--warmup', '0', '--connections', '2'];

describe('clef-agent loadtest', { concurrency: false }, () => {
  const dir = suiteTempDirs('clef-loadtest-').make();
  let agent: AgentProcess;
  let url = '';
  const token = randomBytes(32).toString('hex');

  before(async () => {
    const keys = await ageKeyPair();
    const source = join(dir, 'artifact.json');
    await writeFile(source, await artifactJson({ recipient: keys.recipient, payload: samplePayload() }));
    agent = new AgentProcess({ CLEF_AGENT_SOURCE: source, CLEF_AGENT_AGE_KEY: keys.identity, CLEF_AGENT_TOKEN: token, CLEF_AGENT_CACHE_TTL: '0' });
    await agent.ready();
    url = `http://127.0.0.1:${agent.port}`;
  });

  after(async () => {
    await agent.stop();
  });

  it('prints the table and exits 0 within the thresholds', { timeout: 30_000 }, async () => {
    const r = await loadtest(['--url', url, '--token', token, ...QUICK, '--max-p99-ms', '60000', '--json']);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /scenario\s+req\/s\s+p50 ms\s+p99 ms\s+max ms\s+errors\s+non-2xx/);
    assert.match(r.stdout, /GET \/v1\/secrets/);
    assert.match(r.stdout, /PASS: within thresholds/);
    const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
    assert.ok(line, 'a RESULT line');
    const result = JSON.parse(line.slice(7)) as { requests: number; non2xx: number; errors: number; pass: boolean };
    assert.ok(result.requests > 0);
    assert.equal(result.non2xx + result.errors, 0);
    assert.equal(result.pass, true);
  });

  it('exits 1 when the p99 exceeds --max-p99-ms', { timeout: 30_000 }, async () => {
    const r = await loadtest(['--url', url, '--token', token, ...QUICK, '--max-p99-ms', '0.001']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /scenario\s+req\/s/);
    assert.match(r.stdout, /FAIL: .*p99 .* > --max-p99-ms 0\.001/);
  });

  it('exits 1 on non-2xx answers beyond --max-errors (wrong token → 401)', { timeout: 30_000 }, async () => {
    const r = await loadtest(['--url', url, '--token', 'not-the-token', ...QUICK]);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /401×\d+/);
    assert.match(r.stdout, /FAIL: errors \+ non-2xx = \d+ > --max-errors 0/);
  });

  it('reads the token from --token-file and loads another --path', { timeout: 30_000 }, async () => {
    const file = join(dir, 'token');
    await writeFile(file, `${token}\n`, { mode: 0o600 });
    const r = await loadtest(['--url', url, '--token-file', file, '--path', '/v1/keys', ...QUICK]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /GET \/v1\/keys/);
  });

  it('refuses a non-loopback URL with exit 2, before sending anything', { timeout: 10_000 }, async () => {
    const r = await loadtest(['--url', 'http://example.invalid:7779', '--token', token, ...QUICK]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /not a loopback address/);
    assert.doesNotMatch(r.stdout, /scenario/);
  });
});

describe('loadtest arguments and verdict', () => {
  it('accepts only loopback http URLs', () => {
    for (const ok of ['http://127.0.0.1:7779', 'http://127.1.2.3:1', 'http://localhost:7779', 'http://[::1]:7779'])
      assert.doesNotThrow(() => loopbackUrl(ok), ok);
    for (const bad of [
      'http://10.0.0.1:7779',
      'http://192.168.1.1',
      'https://127.0.0.1',
      'http://user:pw@127.0.0.1',
      'http://127.0.0.1.example.com',
      'not a url',
    ]) {
      assert.throws(() => loopbackUrl(bad), UsageError, bad);
    }
  });

  it('defaults the path to /v1/secrets and validates numbers', () => {
    const a = parseLoadtestArgs(['--url', 'http://127.0.0.1:1']);
    assert.ok(a !== 'help');
    assert.equal(a.url.pathname, '/v1/secrets');
    assert.equal(a.connections, 32);
    assert.throws(() => parseLoadtestArgs(['--url', 'http://127.0.0.1:1', '--connections', '0']), UsageError);
    assert.throws(() => parseLoadtestArgs(['--url', 'http://127.0.0.1:1', '--bogus']), UsageError);
  });

  it('judges errors, non-2xx and p99 against the thresholds', () => {
    const ok = { requests: 10, errors: 0, non2xx: 0, p99Ms: 5 };
    assert.equal(judge(ok, { maxErrors: 0, maxP99Ms: 10 }).ok, true);
    assert.equal(judge({ ...ok, non2xx: 1 }, { maxErrors: 0 }).ok, false);
    assert.equal(judge({ ...ok, errors: 2 }, { maxErrors: 2 }).ok, true);
    assert.equal(judge(ok, { maxErrors: 0, maxP99Ms: 4 }).ok, false);
    assert.equal(judge({ ...ok, requests: 0, p99Ms: Number.NaN }, { maxErrors: 0 }).ok, false);
  });
});
