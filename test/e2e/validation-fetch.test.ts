/**
 * Fetch rules that decide whether bytes reach validation (SPEC §4.1, §5.1), through the real
 * process: gzip-encoded artifacts, the size cap counted after decompression, redirects and
 * link-local addresses.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { agentOn, assertServing, fetchFailed, health, refreshed, startPolled } from '../helpers/scenario.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';

const GOOD = { app: { API_KEY: 'fetch-rules-value' } };
/** Highly compressible padding: tiny on the wire, large once decompressed. */
const PAD = 'a'.repeat(200_000);

describe('§4.1 / §5.1 fetch rules', { concurrency: true }, () => {
  it('§4.1: a gzip-encoded artifact is served, and a gzip-encoded replacement too', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD, setup: (s) => (s.gzip = true) });
    t.after(() => p.close());
    await assertServing(p, GOOD);
    const next = { app: { API_KEY: 'gzip-next' } };
    await p.swap(await p.artifact({ payload: next, revision: 'rev-gz' }), refreshed('rev-gz'));
    await assertServing(p, next);
  });

  it('§5.1: an artifact over CLEF_AGENT_MAX_ARTIFACT_BYTES is rejected (too_large) and the old snapshot is still served', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD, env: { CLEF_AGENT_MAX_ARTIFACT_BYTES: '8192' } });
    t.after(() => p.close());
    await p.swap(await p.artifact({ payload: { app: { API_KEY: 'big' } }, mutate: (a) => (a['padding'] = PAD) }), fetchFailed('too_large'));
    await assertServing(p, GOOD);
    assert.equal((await health(p)).lastError?.code, 'too_large');
  });

  it('§5.1: the size cap counts the bytes after decompression (gzip bomb → too_large)', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD, env: { CLEF_AGENT_MAX_ARTIFACT_BYTES: '8192' }, setup: (s) => (s.gzip = true) });
    t.after(() => p.close());
    const body = await p.artifact({ payload: { app: { API_KEY: 'bomb' } }, mutate: (a) => (a['padding'] = PAD) });
    await p.swap(body, fetchFailed('too_large'));
    await assertServing(p, GOOD);
  });

  it('§5.1: a multi-megabyte artifact under the default 10 MiB cap is served', { timeout: 60_000 }, async (t) => {
    // ~5 MB of payload → ~6.7 MB of base64 ciphertext: well under CLEF_AGENT_MAX_ARTIFACT_BYTES' default.
    const app: Record<string, string> = {};
    for (let i = 0; i < 80; i++) app[`K${i}`] = `${i}:`.padEnd(64 * 1024, 'z');
    const p = await startPolled({ payload: { app }, waitReady: false });
    t.after(() => p.close());
    await p
      .logAfter(0, (l) => l.event === 'artifact.refreshed' || l.event === 'agent.start_failed' || l.event === 'startup.attempt_failed', 30_000)
      .then((l) => assert.equal(l.event, 'artifact.refreshed', `the first load failed: ${String(l['msg'])}`));
    const keys = await p.get('/v1/keys');
    assert.equal(keys.status, 200);
    assert.equal(keys.json<string[]>().length, 80);
    assert.equal((await p.get('/v1/secrets/K79')).json<{ value: string }>().value, app['K79']);
  });

  it('§4.2 + §5.1: an artifact over the cap at start-up → exits non-zero with the size hint', { timeout: 45_000 }, async (t) => {
    const key = await ageKeyPair();
    const server = await new ArtifactServer().start();
    t.after(() => server.close());
    server.body = await artifactJson({ recipient: key.recipient, payload: GOOD, mutate: (a) => (a['padding'] = PAD) });
    const agent = agentOn(t, server.url(), key.identity, { CLEF_AGENT_MAX_ARTIFACT_BYTES: '8192' });
    assert.notEqual(await agent.exited(), 0);
    assert.match(agent.stderr, /larger than the 8192-byte cap/);
    assert.match(agent.stderr, /Hint: raise CLEF_AGENT_MAX_ARTIFACT_BYTES/);
  });

  it('§5.1: a redirect to another host is not followed (forbidden_redirect) and the old snapshot is still served', { timeout: 45_000 }, async (t) => {
    const p = await startPolled({ payload: GOOD });
    t.after(() => p.close());
    const from = p.mark();
    p.server.behaviour = { kind: 'redirect', location: `http://localhost:${p.server.port}/elsewhere.json` };
    await p.logAfter(from, fetchFailed('forbidden_redirect'));
    await assertServing(p, GOOD);
    assert.equal(p.server.requests.filter((r) => r.url === '/elsewhere.json').length, 0);
  });

  it('§5.1: a link-local source (cloud metadata) is never fetched, even with CLEF_AGENT_ALLOW_HTTP', { timeout: 45_000 }, async (t) => {
    const key = await ageKeyPair();
    const agent = agentOn(t, 'http://169.254.169.254/latest/meta-data/artifact.json', key.identity, { CLEF_AGENT_ALLOW_HTTP: 'true' });
    assert.notEqual(await agent.exited(), 0);
    assert.match(agent.stderr, /link-local/);
    assert.match(agent.stderr, /Hint: the source location is refused by the fetch safety rules/);
  });
});
