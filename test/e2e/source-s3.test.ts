/**
 * S3 sources through the real agent process, against a local S3-compatible server that verifies
 * every SigV4 signature with the SDK signer. Credentials come from the SDK default chain, supplied
 * three ways: environment variables, a shared credentials/config profile, and an ECS-style
 * container credentials endpoint on loopback. Polls send the ETag back and get 304.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentProcess, suiteTempDirs } from '../kit/index.js';
import { isEvent, newToken, polledAgentEnv } from '../helpers/scenario.js';
import { ageKeyPair, artifactJson, type AgeKeyPair } from '../helpers/artifacts.js';
import { S3Server } from '../../emulators/s3-server.js';

const PAYLOAD = { app: { API_KEY: 'S3SourcedSecret-42' } };
const ENV_CREDS = { id: 'AKIAENVEXAMPLE0001', secret: 'EnvSecretAccessKey0001' };
const PROFILE_CREDS = { id: 'AKIAPROFILEEXAMPLE02', secret: 'ProfileSecretAccessKey02' };
const ECS_CREDS = { id: 'ASIAECSEXAMPLE000003', secret: 'EcsSecretAccessKey03', token: 'EcsSessionToken/03+abc=' };

let s3: S3Server;
let key: AgeKeyPair;
const dir = suiteTempDirs('clef-s3-e2e-').make();
let ecs: http.Server;
const agents: AgentProcess[] = [];

before(async () => {
  key = await ageKeyPair();
  s3 = await new S3Server().start();
  s3.credentials.set(ENV_CREDS.id, { secretAccessKey: ENV_CREDS.secret });
  s3.credentials.set(PROFILE_CREDS.id, { secretAccessKey: PROFILE_CREDS.secret });
  s3.credentials.set(ECS_CREDS.id, { secretAccessKey: ECS_CREDS.secret, sessionToken: ECS_CREDS.token });
  s3.put('clef-artifacts', 'api/production.age.json', await artifactJson({ recipient: key.recipient, payload: PAYLOAD }));
  // An ECS container credentials endpoint (the shape the SDK's fromContainerMetadata reads).
  ecs = http.createServer((req, res) => {
    if (req.url !== '/creds') return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(
      JSON.stringify({
        AccessKeyId: ECS_CREDS.id,
        SecretAccessKey: ECS_CREDS.secret,
        Token: ECS_CREDS.token,
        Expiration: new Date(Date.now() + 3_600_000).toISOString(),
      }),
    );
  });
  await new Promise<void>((r) => ecs.listen(0, '127.0.0.1', r));
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  ecs.closeAllConnections();
  await new Promise((r) => ecs.close(r));
  await s3.close();
});

/** An agent reading s3://clef-artifacts/… through AWS_ENDPOINT_URL_S3, with `extra` credentials env. */
async function startAgent(extra: Record<string, string>): Promise<AgentProcess> {
  const agent = new AgentProcess(
    polledAgentEnv(key.identity, {
      CLEF_AGENT_SOURCE: 's3://clef-artifacts/api/production.age.json',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      // Nothing in these tests may wait on a (missing) instance metadata service.
      AWS_EC2_METADATA_DISABLED: 'true',
      ...extra,
    }),
  );
  agents.push(agent);
  await agent.ready();
  return agent;
}

async function assertServes(agent: AgentProcess): Promise<void> {
  const r = await agent.request('/v1/secrets');
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), PAYLOAD);
}

function signedBy(accessKeyId: string): number {
  return s3.requests.filter((r) => r.outcome === 'ok' && String(r.headers['authorization']).includes(`Credential=${accessKeyId}/`)).length;
}

describe('S3 sources through the agent', { concurrency: 1 }, () => {
  it('credentials from environment variables; polls send the ETag and get 304', { timeout: 60_000 }, async () => {
    const agent = await startAgent({ AWS_ACCESS_KEY_ID: ENV_CREDS.id, AWS_SECRET_ACCESS_KEY: ENV_CREDS.secret });
    await assertServes(agent);
    assert.ok(signedBy(ENV_CREDS.id) >= 1);
    assert.equal(s3.requests.find((r) => String(r.headers['authorization']).includes(ENV_CREDS.id))?.scope, 'eu-west-1');
    await agent.logAfter(0, isEvent('artifact.unchanged'), 20_000);
    assert.ok(s3.requests.some((r) => r.outcome === '304' && String(r.headers['authorization']).includes(ENV_CREDS.id)));
    assert.ok(!agent.output.includes(ENV_CREDS.secret), 'the secret key is never logged');
    const label = agent.logs().find((l) => l.event === 'agent.starting')?.['source'];
    assert.equal(label, `s3://clef-artifacts/api/production.age.json via ${s3.endpoint}/`);
  });

  it('credentials from a shared credentials/config profile (AWS_PROFILE)', { timeout: 60_000 }, async () => {
    const credentials = join(dir, 'credentials');
    const config = join(dir, 'config');
    writeFileSync(
      credentials,
      `[default]\naws_access_key_id = WRONG\naws_secret_access_key = WRONG\n\n[clef]\naws_access_key_id = ${PROFILE_CREDS.id}\naws_secret_access_key = ${PROFILE_CREDS.secret}\n`,
    );
    writeFileSync(config, '[profile clef]\nregion = eu-west-1\n');
    const agent = await startAgent({ AWS_SHARED_CREDENTIALS_FILE: credentials, AWS_CONFIG_FILE: config, AWS_PROFILE: 'clef' });
    await assertServes(agent);
    assert.ok(signedBy(PROFILE_CREDS.id) >= 1);
  });

  it('credentials from an ECS container credentials endpoint (session token signed and sent)', { timeout: 60_000 }, async () => {
    const port = (ecs.address() as AddressInfo).port;
    const agent = await startAgent({ AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/creds` });
    await assertServes(agent);
    assert.ok(signedBy(ECS_CREDS.id) >= 1);
    assert.ok(s3.requests.some((r) => r.headers['x-amz-security-token'] === ECS_CREDS.token));
    assert.ok(!agent.output.includes(ECS_CREDS.token));
  });

  it('a bad secret: the first load fails with 403 and an access hint, exit non-zero, nothing secret in the output', { timeout: 60_000 }, async () => {
    const agent = new AgentProcess({
      CLEF_AGENT_SOURCE: 's3://clef-artifacts/api/production.age.json',
      AWS_REGION: 'eu-west-1',
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ACCESS_KEY_ID: ENV_CREDS.id,
      AWS_SECRET_ACCESS_KEY: 'TheWrongSecretKey999',
      AWS_EC2_METADATA_DISABLED: 'true',
      CLEF_AGENT_AGE_KEY: key.identity,
      CLEF_AGENT_TOKEN: newToken(),
      CLEF_AGENT_WORKERS: '1',
    });
    agents.push(agent);
    const code = await agent.exited(45_000);
    assert.notEqual(code, 0);
    assert.match(agent.stderr, /HTTP 403.*Hint: access denied/s);
    assert.ok(!agent.output.includes('TheWrongSecretKey999'));
  });
});
