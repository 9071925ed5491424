/**
 * SPEC §5 `/v1/ready` 503 reasons after a first load (`revoked`, `expired`, `cache_expired`), and
 * the same reason as the state gate's 503 on every secrets route, while `/v1/health` keeps
 * answering 200. (`not_loaded`: http-ready.test.ts.) The three agents run concurrently.
 */
import assert from 'node:assert/strict';
import { rmSync, writeFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { artifactJson, samplePayload } from '../helpers/artifacts.js';
import { assertErrorBody, waitUntil } from '../kit/index.js';
import { type FileAgent, SECRET_ROUTES, startFileAgent } from '../helpers/http-fixtures.js';

async function assertNotServing(fa: FileAgent, reason: string): Promise<void> {
  const ready = await fa.agent.request('/v1/ready', { token: '' });
  assert.equal(ready.status, 503);
  assert.deepEqual(ready.json(), { ready: false, reason });
  for (const path of SECRET_ROUTES) {
    const r = await fa.agent.request(path);
    assertErrorBody(r, 503, reason);
    assert.equal(r.headers['cache-control'], 'no-store');
    assert.ok(!r.body.includes('STATE-'), 'no secret in the 503');
    // Token gate still first: without a token it is 401, not the state.
    assertErrorBody(await fa.agent.request(path, { token: '' }), 401, 'unauthorized');
  }
  const health = await fa.agent.request('/v1/health', { token: '' });
  assert.equal(health.status, 200);
  assert.equal(health.json<Record<string, unknown>>()['status'], 'ok');
}

describe('§5 /v1/ready 503 reasons after the first load', { timeout: 90_000, concurrency: true }, () => {
  const agents: FileAgent[] = [];
  after(async () => {
    await Promise.all(agents.map((a) => a.close()));
  });

  it('§5 GET /v1/ready → 503 {"ready":false,"reason":"revoked"} after a revocation; secrets routes 503 revoked', async () => {
    const fa = await startFileAgent({ payload: samplePayload('STATE-R'), env: { CLEF_AGENT_POLL_INTERVAL: '5' } });
    agents.push(fa);
    assert.equal((await fa.agent.request('/v1/ready')).status, 200);
    writeFileSync(fa.artifactPath, await artifactJson({ recipient: fa.key.recipient, payload: samplePayload('STATE-R'), revokedAt: new Date().toISOString() }));
    await fa.agent.waitForLog((l) => l.event === 'artifact.revoked', 30_000);
    await assertNotServing(fa, 'revoked');
  });

  it('§5 GET /v1/ready → 503 {"ready":false,"reason":"expired"} past expiresAt; secrets routes 503 expired; health expired: true', async () => {
    const fa = await startFileAgent({ payload: samplePayload('STATE-E'), artifact: { expiresAt: new Date(Date.now() + 10_000).toISOString() } });
    agents.push(fa);
    await fa.agent.waitForLog((l) => l.event === 'artifact.expired', 30_000);
    await assertNotServing(fa, 'expired');
    assert.equal((await fa.agent.request('/v1/health')).json<Record<string, unknown>>()['expired'], true);
  });

  it('§5 GET /v1/ready → 503 {"ready":false,"reason":"cache_expired"} once CACHE_TTL passes without a successful refresh', { timeout: 80_000 }, async () => {
    const fa = await startFileAgent({ payload: samplePayload('STATE-C'), env: { CLEF_AGENT_CACHE_TTL: '30', CLEF_AGENT_POLL_INTERVAL: '5' } });
    agents.push(fa);
    assert.equal((await fa.agent.request('/v1/ready')).status, 200);
    // The source goes away: every refresh fails from now on.
    rmSync(fa.artifactPath);
    await waitUntil(async () => (await fa.agent.request('/v1/ready')).status === 503, 60_000, '/v1/ready 503', 500);
    await assertNotServing(fa, 'cache_expired');
    assert.equal((await fa.agent.request('/v1/health')).json<Record<string, unknown>>()['expired'], true);
  });
});
