/**
 * SPEC §10.5 against the real daemon: SIGHUP re-reads the token file, the scoped-tokens file and the
 * age key file (all or nothing: a broken file keeps every previous value and the log names the file
 * and the problem), then refreshes at once (a new revision is served without waiting for the poll,
 * here an hour away), and a rotated age key reaches the workers. `POST /v1/refresh` answers the
 * revision and `changed`, is rate-limited (429 with Retry-After), needs a token and only takes POST.
 * One agent, steps in order; no step waits for a timer.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentProcess, assertErrorBody, suiteTempDirs, type LogLine } from '../kit/index.js';
import { ageKeyPair, artifactJson, type AgeKeyPair } from '../helpers/artifacts.js';

const MAIN_1 = 'a0'.repeat(32);
const MAIN_2 = 'b0'.repeat(32);
const WEB = 'c0'.repeat(32);
const CI = 'd0'.repeat(32);
const sha = (t: string): string => createHash('sha256').update(t).digest('hex');
const PAYLOAD = { app: { API_KEY: 'reload-app-value' }, payments: { STRIPE_KEY: 'reload-stripe-value' } };

describe('§10.5 SIGHUP reload and POST /v1/refresh (real daemon)', { timeout: 90_000 }, () => {
  const dirs = suiteTempDirs('clef-reload-');
  let dir = '';
  let agent: AgentProcess;
  let key: AgeKeyPair;
  let oldKey: AgeKeyPair;
  const t0 = Date.now() - 10 * 60_000;
  const file = (name: string): string => join(dir, name);
  const write = (name: string, text: string): void => writeFileSync(file(name), text, { mode: 0o600 });
  const tokens = (list: { name: string; token: string; namespaces: string[] }[]): string =>
    JSON.stringify({ tokens: list.map((t) => ({ name: t.name, sha256: sha(t.token), namespaces: t.namespaces })) });
  const publish = async (revision: string, minutes: number, recipient = key.recipient): Promise<void> =>
    write(
      'artifact.json',
      await artifactJson({
        recipient,
        payload: { ...PAYLOAD, meta: { REVISION: revision } },
        revision,
        packedAt: new Date(t0 + minutes * 60_000).toISOString(),
      }),
    );

  /** SIGHUP, then the reload's own log line (`reload.done` or `reload.failed`) and the refresh it triggered. */
  async function hup(expect: 'reload.done' | 'reload.failed'): Promise<LogLine> {
    const from = agent.logs().length;
    agent.child.kill('SIGHUP');
    const line = await agent.logAfter(from, (l) => l.event === 'reload.done' || l.event === 'reload.failed');
    assert.equal(line.event, expect, String(line.msg));
    // The refresh runs after the reload either way; wait for it so the next step starts clean.
    await agent.logAfter(from, (l) => l.event === 'reload.refreshed');
    return line;
  }

  before(async () => {
    dir = dirs.make();
    key = await ageKeyPair();
    oldKey = key;
    write('age-key', `# test identity\n${key.identity}\n`);
    write('token', MAIN_1);
    write('tokens.json', tokens([{ name: 'web', token: WEB, namespaces: ['app'] }]));
    await publish('rev-1', 1);
    agent = new AgentProcess({
      CLEF_AGENT_SOURCE: file('artifact.json'),
      CLEF_AGENT_AGE_KEY_FILE: file('age-key'),
      CLEF_AGENT_TOKEN_FILE: file('token'),
      CLEF_AGENT_TOKENS_FILE: file('tokens.json'),
      CLEF_AGENT_CACHE_TTL: '7200',
      CLEF_AGENT_POLL_INTERVAL: '3600',
      CLEF_AGENT_WORKERS: '1',
      CLEF_AGENT_LOG_LEVEL: 'debug',
    });
    await agent.started({ cleanup: () => agent.stop().then(() => undefined) });
  });
  after(async () => {
    await agent?.stop();
  });

  const get = (path: string, token: string) => agent.request(path, { token });

  it('SIGHUP with a changed token file: the old token is refused, the new one accepted', async () => {
    assert.equal((await get('/v1/secrets', MAIN_1)).status, 200);
    write('token', `${MAIN_2}\n`);
    await hup('reload.done');
    assertErrorBody(await get('/v1/secrets', MAIN_1), 401, 'unauthorized');
    assert.equal((await get('/v1/secrets', MAIN_2)).status, 200);
    assert.equal(agent.child.exitCode, null, 'SIGHUP does not stop the agent');
  });

  it('SIGHUP with a changed scoped-tokens file: a removed token is refused, an added one sees its scope', async () => {
    assert.deepEqual((await get('/v1/keys', WEB)).json(), ['app__API_KEY']);
    write('tokens.json', tokens([{ name: 'ci', token: CI, namespaces: ['payments'] }]));
    const done = await hup('reload.done');
    assert.deepEqual(done['scopedTokens'], ['ci']);
    assertErrorBody(await get('/v1/keys', WEB), 401, 'unauthorized');
    assert.deepEqual((await get('/v1/secrets', CI)).json(), { payments: PAYLOAD.payments });
    assert.equal((await get('/v1/secrets/app__API_KEY', CI)).status, 404);
  });

  it('a broken scoped-tokens file keeps every previous value, the token file’s change included; the log names the file and the problem', async () => {
    write('token', MAIN_1);
    write('tokens.json', JSON.stringify({ tokens: [{ name: 'ci', sha256: 'xyz', namespaces: ['payments'] }] }));
    const failed = await hup('reload.failed');
    assert.equal(failed.level, 'error');
    const msg = String(failed.msg);
    assert.ok(msg.includes('CLEF_AGENT_TOKENS_FILE'), msg);
    assert.ok(msg.includes(file('tokens.json')), msg);
    assert.match(msg, /tokens\[0\] \("ci"\) "sha256" is not 64 hexadecimal digits/);
    // All or nothing: the token file's new token was not taken either.
    assert.equal((await get('/v1/secrets', MAIN_2)).status, 200);
    assertErrorBody(await get('/v1/secrets', MAIN_1), 401, 'unauthorized');
    assert.equal((await get('/v1/keys', CI)).status, 200);
  });

  it('a broken age key file keeps every previous value, and the log names the file', async () => {
    write('tokens.json', tokens([{ name: 'ci', token: CI, namespaces: ['payments'] }]));
    write('age-key', 'AGE-SECRET-KEY-1NOTAKEY\n');
    const failed = await hup('reload.failed');
    const msg = String(failed.msg);
    assert.ok(msg.includes('CLEF_AGENT_AGE_KEY_FILE') && msg.includes(file('age-key')), msg);
    assert.ok(!msg.includes('NOTAKEY'), 'the key text is never quoted');
    assert.equal((await get('/v1/secrets', MAIN_2)).status, 200, 'the previous main token still works');
    assertErrorBody(await get('/v1/secrets', MAIN_1), 401, 'unauthorized');
  });

  it('SIGHUP refreshes at once: a rotated key and a new artifact for it are served without waiting for the poll', async () => {
    key = await ageKeyPair();
    write('age-key', `${key.identity}\n`);
    await publish('rev-2', 2);
    const from = agent.logs().length;
    await hup('reload.done');
    const refreshed = await agent.logAfter(from, (l) => l.event === 'artifact.refreshed');
    assert.equal(refreshed['trigger'], 'reload');
    const health = (await get('/v1/health', '')).json<{ revision: string }>();
    assert.equal(health.revision, 'rev-2');
    assert.deepEqual((await get('/v1/secrets', MAIN_1)).json<{ meta: unknown }>().meta, { REVISION: 'rev-2' });
    assert.notEqual(key.identity, oldKey.identity);
  });

  it('POST /v1/refresh answers the new revision and `changed`; a second one within 5 s gets 429 with Retry-After', async () => {
    await publish('rev-3', 3);
    const r = await agent.request('/v1/refresh', { method: 'POST', token: CI });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json(), { revision: 'rev-3', changed: true });
    assert.equal((await get('/v1/health', '')).json<{ revision: string }>().revision, 'rev-3');
    const again = await agent.request('/v1/refresh', { method: 'POST', token: MAIN_1 });
    assertErrorBody(again, 429, 'refresh_rate_limited');
    const wait = Number(again.headers['retry-after']);
    assert.ok(Number.isInteger(wait) && wait >= 1 && wait <= 5, String(again.headers['retry-after']));
  });

  it('POST /v1/refresh needs a token and only takes POST; the read routes stay GET/HEAD', async () => {
    assertErrorBody(await agent.request('/v1/refresh', { method: 'POST', token: 'e0'.repeat(32) }), 401, 'unauthorized');
    for (const method of ['GET', 'HEAD', 'PUT', 'DELETE']) {
      const r = await agent.request('/v1/refresh', { method, token: MAIN_1 });
      assert.equal(r.status, 405, method);
      assert.equal(r.headers['allow'], 'POST');
    }
    const post = await agent.request('/v1/secrets', { method: 'POST', token: MAIN_1 });
    assert.equal(post.status, 405);
    assert.equal(post.headers['allow'], 'GET, HEAD');
  });

  it('the logs carry no token, no token hash and no key material', () => {
    const out = agent.output;
    for (const s of [MAIN_1, MAIN_2, WEB, CI, sha(MAIN_1), sha(MAIN_2), sha(WEB), sha(CI), key.identity, oldKey.identity, 'reload-stripe-value']) {
      assert.ok(!out.includes(s), 'nothing secret in the logs');
    }
  });
});
