/**
 * KMS with IAM roles for service accounts (IRSA), the usual identity of a sidecar on EKS: no static
 * keys, only AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN. The agent's workers (the real SDK's
 * default credential chain) exchange the projected token at STS (`AssumeRoleWithWebIdentity`,
 * the local STS server through AWS_ENDPOINT_URL_STS) for temporary credentials, and sign every KMS
 * Decrypt with them and their session token. The token and the temporary credentials never reach
 * the agent's output; a token STS refuses stops the start with a message that says so.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AgentProcess } from '../kit/index.js';
import { kmsArtifact } from '../helpers/kms-artifacts.js';
import { kmsAgentEnv, startKmsSource, type KmsSource } from '../helpers/kms-source.js';
import { WebIdentity, type StsServer } from '../../emulators/sts-server.js';

const PAYLOAD = { app: { DATABASE_URL: 'postgres://u:Irsa-Db-5c0e@db/app' } };
const ROLE_ARN = 'arn:aws:iam::111122223333:role/clef-agent';
/** Shaped like a projected service-account token (a JWT); STS compares it byte for byte here. */
const TOKEN = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from('{"sub":"system:serviceaccount:apps:clef-agent","aud":["sts.amazonaws.com"]}').toString('base64url')}.Irsa-Sig-7f21`;

describe('KMS with a web identity (IRSA) instead of static keys (real agent process)', { concurrency: 1 }, () => {
  let setup: KmsSource;
  let irsa: WebIdentity;
  let sts: StsServer;
  const agents: AgentProcess[] = [];

  before(async () => {
    setup = await startKmsSource(async (kms, keyId) => JSON.stringify(await kmsArtifact(kms, { keyId, payload: PAYLOAD, revision: 'irsa-1' })));
    irsa = await WebIdentity.start({ token: TOKEN, roleArn: ROLE_ARN, issueTo: setup.kms.sessions });
    sts = irsa.sts;
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all([irsa?.close(), setup?.close()]);
  });

  /** The agent's environment as EKS sets it for IRSA: the static keys of the KMS helper removed. */
  function irsaEnv(token: string, extra: Record<string, string>): Record<string, string> {
    return irsa.env(kmsAgentEnv(setup, { AWS_ROLE_SESSION_NAME: 'clef-agent-test', ...extra }), token);
  }

  it(
    'JIT: every Decrypt is signed with the role’s temporary credentials and session token; STS is asked once, not per request',
    { timeout: 30_000 },
    async () => {
      const agent = new AgentProcess(irsaEnv(TOKEN, { CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_MAX_STALE: '60', CLEF_AGENT_LOG_LEVEL: 'trace' }));
      agents.push(agent);
      await agent.ready();
      const decrypts = setup.kms.calls.filter((c) => c.op === 'Decrypt' && c.outcome === 'ok').length;
      for (let i = 0; i < 5; i++) {
        const r = await agent.request('/v1/secrets');
        assert.equal(r.status, 200, r.body);
        assert.deepEqual(r.json(), PAYLOAD);
      }
      const calls = setup.kms.calls.filter((c) => c.op === 'Decrypt');
      assert.equal(calls.filter((c) => c.outcome === 'ok').length - decrypts, 5, 'one Decrypt per JIT request');
      const issued = new Set(sts.issued.map((c) => c.accessKeyId));
      assert.ok(
        calls.every((c) => issued.has(c.accessKeyId ?? '')),
        'every Decrypt was signed with an STS-issued key (the server checked its session token)',
      );
      const assumed = sts.calls.filter((c) => c.action === 'AssumeRoleWithWebIdentity' && c.outcome === 'ok');
      assert.ok(assumed.length >= 1 && assumed.every((c) => c.roleArn === ROLE_ARN));
      // Credentials are cached by the SDK until they near expiry: more requests ask STS nothing.
      const before = sts.calls.length;
      for (let i = 0; i < 5; i++) assert.equal((await agent.request('/v1/secrets')).status, 200);
      assert.equal(sts.calls.length, before);
      for (const secret of [TOKEN, 'Irsa-Sig-7f21', ...sts.issued.flatMap((c) => [c.secretAccessKey, c.sessionToken])]) {
        assert.ok(!agent.output.includes(secret), 'neither the web identity token nor the temporary credentials are in the output');
      }
    },
  );

  it('a token STS refuses: the start fails naming STS and the refusal, without echoing the token', { timeout: 30_000 }, async () => {
    const wrong = `${TOKEN.slice(0, -4)}0000`;
    const agent = new AgentProcess(irsaEnv(wrong, {}));
    agents.push(agent);
    assert.notEqual(await agent.exited(), 0);
    assert.ok(sts.calls.some((c) => c.outcome === 'InvalidIdentityToken'));
    // Not "KMS refused the Decrypt": KMS was never called. STS's own message, and a hint about the role.
    assert.match(agent.stderr, /AWS credentials could not be obtained \(InvalidIdentityTokenException, HTTP 400\): Couldn't retrieve verification key/);
    assert.match(agent.stderr, /Hint: AWS credentials: for a web identity \(IRSA\) check AWS_ROLE_ARN/);
    assert.doesNotMatch(agent.stderr, /KMS refused|KMS Decrypt denied/);
    // Its code says so too (not kms_denied), on every failed attempt.
    const rejected = agent.logs().filter((l) => l.event === 'artifact.invalid');
    assert.ok(rejected.length > 0 && rejected.every((l) => l['code'] === 'credentials_denied'), JSON.stringify(rejected));
    assert.ok(!agent.output.includes(wrong) && !agent.output.includes('Irsa-Sig'), 'the token is not echoed');
  });
});
