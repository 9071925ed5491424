/**
 * JIT mode with a KMS envelope artifact, through the real agent process and the real SDK against
 * the local KMS server (SPEC §5.2): every request calls KMS Decrypt, so revoking access stops the
 * very next request (503 kms_denied) and restoring it lets the next one through; outages are
 * kms_unavailable; KMS, not MAX_STALE, gates freshness; no data key or plaintext reaches the logs.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertErrorBody, waitUntil, type AgentProcess } from '../kit/index.js';
import type { ArtifactServer } from '../../emulators/artifact-server.js';
import { kmsArtifact } from '../helpers/kms-artifacts.js';
import type { KmsServer } from '../../emulators/kms-server.js';
import { KMS_TEST_CREDENTIALS } from '../../emulators/kms-server.js';
import { startKmsSource, type KmsSource } from '../helpers/kms-source.js';

const PAYLOAD = { app: { DATABASE_URL: 'postgres://u:Jit-Kms-Db-71e2@db/app' }, payments: { STRIPE_KEY: 'sk_live_Jit-Kms-Stripe-44c1' } };
const VALUES = ['Jit-Kms-Db-71e2', 'Jit-Kms-Stripe-44c1'];

describe('KMS envelope artifacts in JIT mode (real agent process)', () => {
  let setup: KmsSource;
  let kms: KmsServer;
  let source: ArtifactServer;
  let agent: AgentProcess;
  let keyId: string;

  before(async () => {
    setup = await startKmsSource(async (k, id) => JSON.stringify(await kmsArtifact(k, { keyId: id, payload: PAYLOAD, revision: 'kms-jit-1' })));
    ({ kms, source, keyId } = setup);
    agent = await setup.startAgent({ CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_MAX_STALE: '10', CLEF_AGENT_LOG_LEVEL: 'trace' });
  });
  after(() => setup?.close());

  it('serves with no age key configured, one KMS Decrypt per request (secrets, keys, one key)', { timeout: 30_000 }, async () => {
    const start = setup.decrypts();
    const all = await agent.request('/v1/secrets');
    assert.equal(all.status, 200, all.body);
    assert.deepEqual(all.json(), PAYLOAD);
    assert.deepEqual((await agent.request('/v1/keys')).json(), ['app__DATABASE_URL', 'payments__STRIPE_KEY']);
    const one = await agent.request('/v1/secrets/STRIPE_KEY', { headers: { accept: 'text/plain' } });
    assert.equal(one.body, 'sk_live_Jit-Kms-Stripe-44c1');
    assert.equal(setup.decrypts() - start, 3);
  });

  it('revoking KMS access mid-run: the next request is 503 kms_denied, restoring it: the next is 200', { timeout: 30_000 }, async () => {
    kms.deny = true;
    try {
      assertErrorBody(await agent.request('/v1/secrets'), 503, 'kms_denied');
      assertErrorBody(await agent.request('/v1/secrets/STRIPE_KEY'), 503, 'kms_denied');
      // The gate is per request: health stays up, the main thread never waited on KMS.
      assert.equal((await agent.request('/v1/health')).status, 200);
    } finally {
      kms.deny = false;
    }
    assert.equal((await agent.request('/v1/secrets/STRIPE_KEY')).status, 200);
    kms.disabled.add(keyId.split('/')[1] ?? '');
    try {
      assertErrorBody(await agent.request('/v1/keys'), 503, 'kms_denied');
    } finally {
      kms.disabled.clear();
    }
    assert.equal((await agent.request('/v1/keys')).status, 200);
    // The operator is told: the denial with KMS's reason, and when requests succeed again.
    const denied = await agent.waitForLog((l) => l['event'] === 'jit.failed' && l['reason'] === 'kms_denied');
    assert.match(String(denied['msg']), /AccessDeniedException/);
    await agent.waitForLog((l) => l['event'] === 'jit.recovered');
  });

  it('throttling, a KMS 500, a dropped connection and a stalled KMS are 503 kms_unavailable, bounded', { timeout: 60_000 }, async () => {
    const faults = [
      { kind: 'error', type: 'ThrottlingException', status: 400, message: 'Rate exceeded' },
      { kind: 'error', type: 'KMSInternalException', status: 500 },
      { kind: 'reset' },
      // Longer than every SDK timeout: the agent gives up on its own bounds, before the task deadline.
      { kind: 'slow', ms: 60_000 },
    ] as const;
    for (const fault of faults) {
      kms.fault = fault;
      try {
        assertErrorBody(await agent.request('/v1/secrets'), 503, 'kms_unavailable');
      } finally {
        kms.fault = null;
      }
    }
    assert.equal((await agent.request('/v1/secrets')).status, 200);
  });

  it('a wrong-length data key from KMS is 503 decrypt_failed, and the agent keeps serving afterwards', { timeout: 30_000 }, async () => {
    kms.wrongKeyLength = 31;
    try {
      assertErrorBody(await agent.request('/v1/secrets'), 503, 'decrypt_failed');
    } finally {
      kms.wrongKeyLength = undefined;
    }
    assert.equal((await agent.request('/v1/secrets')).status, 200);
  });

  it('§4.3: KMS, not MAX_STALE, gates a KMS artifact: still served with the source down past MAX_STALE', { timeout: 60_000 }, async () => {
    source.behaviour = { kind: 'status', status: 500 };
    try {
      // Wait (bounded) until the last successful refresh is older than MAX_STALE (10 s).
      await waitUntil(
        async () => {
          const h = (await agent.request('/v1/health')).json<{ lastRefreshAt: number; lastError: { code: string } | null }>();
          return h.lastError !== null && Date.now() - h.lastRefreshAt > 11_000;
        },
        45_000,
        'last refresh older than MAX_STALE',
      );
      const r = await agent.request('/v1/secrets');
      assert.equal(r.status, 200, r.body);
      kms.deny = true;
      assertErrorBody(await agent.request('/v1/secrets'), 503, 'kms_denied');
    } finally {
      kms.deny = false;
      source.behaviour = { kind: 'serve' };
    }
  });

  it('§5.1: at trace level no data key, plaintext value or AWS secret reaches stdout/stderr', () => {
    const out = agent.output;
    assert.ok(kms.handedOut.length > 5);
    for (const key of kms.handedOut) {
      for (const form of [key.toString('base64'), key.toString('hex')]) assert.ok(!out.includes(form), 'a data key was logged');
    }
    for (const v of [...VALUES, KMS_TEST_CREDENTIALS.secretAccessKey]) assert.ok(!out.includes(v), `${v} was logged`);
  });
});
