/**
 * HTTPS_PROXY / HTTP_PROXY / NO_PROXY for every remote source kind (one fetch policy,
 * workers/fetch/policy.ts).
 * The sources are named by hosts that do not resolve (`s3.test`, `github.test`), so a request can
 * only reach the local servers through the proxy: the proxy sees every connection and the servers
 * see the requested Host. Loopback targets (127.0.0.1, localhost) bypass the proxy by design —
 * see README "Proxies" — which is why these tests use non-loopback names.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AgentProcess } from '../kit/index.js';
import { isEvent, polledAgentEnv } from '../helpers/scenario.js';
import { ageKeyPair, artifactJson, type AgeKeyPair } from '../helpers/artifacts.js';
import { ForwardProxy } from '../../emulators/proxy.js';
import { S3Server } from '../../emulators/s3-server.js';
import { WebIdentity } from '../../emulators/sts-server.js';
import { VcsServer } from '../../emulators/vcs-servers.js';

const PATH = '.clef/packed/api/production.age.json';
let key: AgeKeyPair;
let proxy: ForwardProxy;
let s3: S3Server;
let github: VcsServer;
const agents: AgentProcess[] = [];

before(async () => {
  key = await ageKeyPair();
  proxy = await new ForwardProxy().start();
  s3 = await new S3Server().start();
  s3.credentials.set('AKIAPROXYEXAMPLE0001', { secretAccessKey: 'ProxySecret0001' });
  s3.put('bkt', 'a.json', await artifactJson({ recipient: key.recipient, payload: { app: { K: 'via-proxy-s3' } } }));
  github = await new VcsServer('github', 'ghp_ProxyTokenSecret', 'acme/secrets').start();
  github.put(PATH, await artifactJson({ recipient: key.recipient, payload: { app: { K: 'via-proxy-github' } }, identity: 'api', environment: 'production' }));
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await Promise.all([proxy.close(), s3.close(), github.close()]);
});

function agentEnv(extra: Record<string, string>): Record<string, string> {
  return {
    HTTPS_PROXY: proxy.url,
    HTTP_PROXY: proxy.url,
    NO_PROXY: 'unrelated.example',
    // http to the non-loopback test names (a real deployment would use https through the proxy).
    CLEF_AGENT_ALLOW_HTTP: 'true',
    ...polledAgentEnv(key.identity, extra),
  };
}

async function ready(agent: AgentProcess): Promise<void> {
  agents.push(agent);
  await agent.ready();
  // One poll as well, so conditional requests are covered too.
  await agent.logAfter(0, isEvent('artifact.unchanged'), 20_000);
}

const S3_ENV = {
  CLEF_AGENT_SOURCE: 's3://bkt/a.json',
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIAPROXYEXAMPLE0001',
  AWS_SECRET_ACCESS_KEY: 'ProxySecret0001',
  AWS_EC2_METADATA_DISABLED: 'true',
};

describe('proxies for every source kind', { concurrency: 1 }, () => {
  it('S3: every request goes through HTTPS_PROXY/HTTP_PROXY (signed for the requested host)', { timeout: 60_000 }, async () => {
    const agent = new AgentProcess(agentEnv({ ...S3_ENV, AWS_ENDPOINT_URL_S3: `http://s3.test:${s3.port}` }));
    await ready(agent);
    assert.equal((await agent.request('/v1/secrets')).json<{ app: { K: string } }>().app.K, 'via-proxy-s3');
    assert.ok(proxy.seen.includes(`CONNECT s3.test:${s3.port}`), proxy.seen.join(', '));
    assert.ok(s3.requests.length >= 2);
    for (const r of s3.requests) {
      assert.equal(r.headers['host'], `s3.test:${s3.port}`, 'only the proxy can have delivered this');
      assert.ok(r.outcome === 'ok' || r.outcome === '304', r.outcome);
    }
  });

  it('S3 with a web identity (IRSA): the STS exchange goes through the proxy as well', { timeout: 60_000 }, async (t) => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.e30.S3-Irsa-Sig-81b4';
    const roleArn = 'arn:aws:iam::111122223333:role/clef-agent-s3';
    const irsa = await WebIdentity.start({ token, roleArn, issueTo: s3.credentials });
    t.after(() => irsa.close());
    const sts = irsa.sts;
    // Like s3.test, sts.test is a name only the proxy can reach: a direct STS call would fail to resolve.
    const agent = new AgentProcess(irsa.env(agentEnv({ ...S3_ENV, AWS_ENDPOINT_URL_S3: `http://s3.test:${s3.port}` }), token, `http://sts.test:${sts.port}`));
    await ready(agent);
    assert.equal((await agent.request('/v1/secrets')).json<{ app: { K: string } }>().app.K, 'via-proxy-s3');
    assert.ok(proxy.seen.includes(`CONNECT sts.test:${sts.port}`), proxy.seen.join(', '));
    assert.ok(sts.calls.some((c) => c.outcome === 'ok'));
    const issued = new Set(sts.issued.map((c) => c.accessKeyId));
    assert.ok(
      s3.requests.some((r) => r.outcome === 'ok' && issued.has(/Credential=([^/]+)\//.exec(String(r.headers['authorization']))?.[1] ?? '')),
      'the GET was signed with the role’s credentials (and its session token, which the server checks)',
    );
    assert.ok(!agent.output.includes('S3-Irsa-Sig-81b4'));
  });

  it('GitHub: every request goes through the proxy', { timeout: 60_000 }, async () => {
    const agent = new AgentProcess(
      agentEnv({
        CLEF_AGENT_VCS_PROVIDER: 'github',
        CLEF_AGENT_VCS_REPO: 'acme/secrets',
        CLEF_AGENT_VCS_TOKEN: 'ghp_ProxyTokenSecret',
        CLEF_AGENT_VCS_IDENTITY: 'api',
        CLEF_AGENT_VCS_ENVIRONMENT: 'production',
        CLEF_AGENT_VCS_API_URL: github.apiUrl('github.test'),
      }),
    );
    await ready(agent);
    assert.ok(proxy.seen.includes(`CONNECT github.test:${github.port}`), proxy.seen.join(', '));
    assert.ok(github.requests.length >= 2);
    for (const r of github.requests) assert.equal(r.headers['host'], `github.test:${github.port}`);
  });

  it('NO_PROXY is honoured: a listed host is fetched directly (and here cannot resolve)', { timeout: 60_000 }, async () => {
    // The agents of the tests above poll through the same proxy: stop them, or their polls count.
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    const seen = proxy.seen.length;
    const agent = new AgentProcess(agentEnv({ ...S3_ENV, AWS_ENDPOINT_URL_S3: `http://s3.test:${s3.port}`, NO_PROXY: 's3.test' }));
    agents.push(agent);
    assert.notEqual(await agent.exited(45_000), 0);
    assert.match(agent.stderr, /network error/);
    assert.equal(proxy.seen.length, seen, 'the proxy saw nothing');
  });
});
