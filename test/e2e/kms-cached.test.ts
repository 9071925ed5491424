/**
 * Cached mode with KMS envelope artifacts, through the real agent process and the real SDK against
 * the local KMS server: one KMS call per new revision (none per request, none for an unchanged
 * poll); a new revision that fails at KMS is rejected while the last good snapshot keeps serving
 * (SPEC §4.3), with the KMS code in /v1/health; start-up errors name what is missing.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AgentProcess } from '../kit/index.js';
import { invalid, isEvent, newToken, POLLING_ENV, refreshed } from '../helpers/scenario.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';
import { kmsArtifact } from '../helpers/kms-artifacts.js';
import type { KmsServer } from '../../emulators/kms-server.js';
import { KMS_TEST_CREDENTIALS } from '../../emulators/kms-server.js';
import { kmsAgentEnv, startKmsSource, type KmsSource } from '../helpers/kms-source.js';

const payload = (tag: string): Record<string, Record<string, string>> => ({ app: { API_KEY: `Cached-Kms-${tag}-9d3f` } });

describe('KMS envelope artifacts in cached mode (real agent process)', () => {
  let setup: KmsSource;
  let kms: KmsServer;
  let source: ArtifactServer;
  let agent: AgentProcess;
  let keyId: string;
  const health = async (): Promise<{ revision: string; lastError: { code: string; at: number } | null }> => (await agent.request('/v1/health')).json();
  const value = async (): Promise<string> => (await agent.request('/v1/secrets/API_KEY', { headers: { accept: 'text/plain' } })).body;
  /** Built (KMS Encrypt) before any fault is switched on; published by assigning `source.body`. */
  const build = async (tag: string): Promise<string> => JSON.stringify(await kmsArtifact(kms, { keyId, payload: payload(tag), revision: `rev-${tag}` }));

  before(async () => {
    setup = await startKmsSource(async (k, id) => {
      [kms, keyId] = [k, id];
      return build('one');
    });
    source = setup.source;
    agent = await setup.startAgent({ ...POLLING_ENV, CLEF_AGENT_LOG_LEVEL: 'trace' });
  });
  after(() => setup?.close());

  it('decrypts once at load; requests and unchanged polls make no KMS call', { timeout: 30_000 }, async () => {
    const n = setup.decrypts();
    assert.equal(n, 1);
    for (let i = 0; i < 5; i++) assert.equal(await value(), 'Cached-Kms-one-9d3f');
    await agent.logAfter(agent.logs().length, isEvent('artifact.unchanged'), 20_000);
    assert.equal(setup.decrypts(), n);
  });

  it('a new revision failing at KMS (throttled, then denied) is rejected; the last good snapshot keeps serving', { timeout: 60_000 }, async () => {
    const [two, three] = [await build('two'), await build('three')];
    kms.fault = { kind: 'error', type: 'ThrottlingException', status: 400, message: 'Rate exceeded' };
    try {
      let from = agent.logs().length;
      source.body = two;
      await agent.logAfter(from, invalid('kms_unavailable'), 20_000);
      assert.equal(await value(), 'Cached-Kms-one-9d3f');
      let h = await health();
      assert.equal(h.revision, 'rev-one');
      assert.equal(h.lastError?.code, 'kms_unavailable');
      kms.fault = null;
      kms.deny = true;
      from = agent.logs().length;
      source.body = three;
      const denied = await agent.logAfter(from, invalid('kms_denied'), 20_000);
      h = await health();
      assert.equal(h.lastError?.code, 'kms_denied');
      assert.match(String(denied['msg']), /AccessDeniedException/);
      // Health, which needs no token, names neither the key nor the source.
      const raw = (await agent.request('/v1/health')).body;
      for (const s of [keyId, source.url(), 'AccessDenied']) assert.ok(!raw.includes(s), `${s} in ${raw}`);
      assert.equal(await value(), 'Cached-Kms-one-9d3f');
      assert.equal((await agent.request('/v1/ready')).status, 200);
    } finally {
      kms.fault = null;
      kms.deny = false;
    }
    // KMS back: the pending revision loads with one KMS call.
    const n = setup.decrypts();
    await agent.logAfter(0, refreshed('rev-three'), 20_000);
    assert.equal(await value(), 'Cached-Kms-three-9d3f');
    assert.equal((await health()).lastError, null);
    assert.equal(setup.decrypts() - n, 1);
  });

  it('§5.1: at trace level no data key, plaintext value or AWS secret reaches stdout/stderr', () => {
    const out = agent.output;
    for (const key of kms.handedOut) {
      for (const form of [key.toString('base64'), key.toString('hex')]) assert.ok(!out.includes(form), 'a data key was logged');
    }
    for (const v of ['one', 'two', 'three'].map((t) => `Cached-Kms-${t}-9d3f`)) assert.ok(!out.includes(v), `${v} was logged`);
    assert.ok(!out.includes(KMS_TEST_CREDENTIALS.secretAccessKey));
  });
});

describe('KMS start-up errors', () => {
  it('an age artifact with no age key configured exits non-zero naming the missing key variables', { timeout: 30_000 }, async (t) => {
    const source = await new ArtifactServer().start();
    t.after(() => source.close());
    source.body = await artifactJson({ recipient: (await ageKeyPair()).recipient, payload: payload('age') });
    const agent = new AgentProcess({ CLEF_AGENT_SOURCE: source.url(), CLEF_AGENT_TOKEN: newToken(), CLEF_AGENT_WORKERS: '1' });
    t.after(() => agent.stop());
    assert.notEqual(await agent.exited(), 0);
    assert.match(agent.stderr, /no age key is configured: set CLEF_AGENT_AGE_KEY or CLEF_AGENT_AGE_KEY_FILE/);
  });

  it('wrong AWS credentials are kms_denied at start-up: non-zero exit with the KMS error and an IAM hint', { timeout: 30_000 }, async (t) => {
    const creds = await startKmsSource(async (k, id) => JSON.stringify(await kmsArtifact(k, { keyId: id, payload: payload('creds') })));
    t.after(() => creds.close());
    const kms = creds.kms;
    const agent = new AgentProcess(kmsAgentEnv(creds, { AWS_SECRET_ACCESS_KEY: 'not-the-secret-the-server-knows' }));
    t.after(() => agent.stop());
    assert.notEqual(await agent.exited(), 0);
    assert.match(agent.stderr, /InvalidSignatureException/);
    assert.match(agent.stderr, /kms:Decrypt/);
    assert.ok(kms.refused.includes('InvalidSignatureException'));
    assert.ok(!agent.output.includes('not-the-secret-the-server-knows'));
  });
});
