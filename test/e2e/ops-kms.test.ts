/**
 * SPEC §8 KMS metrics against the real agent process, the real SDK and the local KMS server (JIT
 * mode, envelope artifact): every request's Decrypt is counted, a denied one under its failure code,
 * and the counts match the Decrypt calls the KMS server saw.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { assertErrorBody, type AgentProcess } from '../kit/index.js';
import type { KmsServer } from '../../emulators/kms-server.js';
import { kmsArtifact } from '../helpers/kms-artifacts.js';
import { startKmsSource, type KmsSource } from '../helpers/kms-source.js';
import { opsPort, scrape, value } from '../helpers/ops.js';

const PAYLOAD = { app: { DATABASE_URL: 'postgres://u:Ops-Kms-Db-5a0e@db/app' } };

describe('§8 KMS Decrypt metrics (JIT, envelope artifact)', { timeout: 90_000 }, () => {
  let setup: KmsSource;
  let kms: KmsServer;
  let agent: AgentProcess;
  let ops: number;

  before(async () => {
    setup = await startKmsSource(async (k, id) => JSON.stringify(await kmsArtifact(k, { keyId: id, payload: PAYLOAD, revision: 'ops-kms-1' })));
    kms = setup.kms;
    agent = await setup.startAgent({ CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_OPS_ADDR: '127.0.0.1:0' });
    ops = await opsPort(agent);
  });
  after(() => setup?.close());

  it('§8 each request counts one Decrypt call; a denied one also counts as a kms_denied failure; KMS gates freshness (+Inf)', async () => {
    const before = await scrape(ops);
    const seen = setup.decrypts();
    assert.equal((await agent.request('/v1/secrets')).status, 200);
    assert.equal((await agent.request('/v1/keys')).status, 200);
    kms.deny = true;
    try {
      assertErrorBody(await agent.request('/v1/secrets'), 503, 'kms_denied');
    } finally {
      kms.deny = false;
    }
    const later = await scrape(ops);
    const calls = value(later, 'clef_agent_kms_decrypt_calls_total') - value(before, 'clef_agent_kms_decrypt_calls_total');
    assert.equal(calls, 3);
    assert.equal(setup.decrypts() - seen, calls, 'as many as the KMS server answered');
    assert.equal(
      value(later, 'clef_agent_kms_decrypt_failures_total', { reason: 'kms_denied' }) -
        value(before, 'clef_agent_kms_decrypt_failures_total', { reason: 'kms_denied' }),
      1,
    );
    assert.equal(value(later, 'clef_agent_freshness_limit_seconds'), Number.POSITIVE_INFINITY);
    assert.equal(value(later, 'clef_agent_artifact_info', { revision: 'ops-kms-1', mode: 'jit', encryption: 'kms' }), 1);
    assert.ok(!later.answer.body.includes('Ops-Kms-Db-5a0e') && !later.answer.body.includes('DATABASE_URL'), 'no secret or key name');
  });
});
