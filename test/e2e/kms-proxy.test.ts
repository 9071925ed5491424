/**
 * SPEC §3: KMS calls honour HTTPS_PROXY / NO_PROXY, through the real agent process and the real
 * SDK. The KMS server speaks https with a throwaway CA (trusted through NODE_EXTRA_CA_CERTS) and is
 * named `kms.test`, a name that does not resolve: only the forward proxy (which connects every
 * CONNECT to 127.0.0.1) can deliver a request to it, and the server sees the Host the SDK signed.
 * The artifact source stays on 127.0.0.1, which is never proxied.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AgentProcess, assertErrorBody, sleep, waitUntil } from '../kit/index.js';
import { invalid, newToken } from '../helpers/scenario.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { kmsArtifact } from '../helpers/kms-artifacts.js';
import { KMS_TEST_CREDENTIALS, KmsServer } from '../../emulators/kms-server.js';
import { ForwardProxy } from '../../emulators/proxy.js';
import { WebIdentity } from '../../emulators/sts-server.js';
import { makeTestTls, writeCaFile, type TestTls } from '../../emulators/test-tls.js';

const PAYLOAD = { app: { API_KEY: 'Kms-Proxy-Value-5b7e' } };

describe('KMS through HTTPS_PROXY (real agent process, https KMS reachable only through the proxy)', { concurrency: 1 }, () => {
  let kms: KmsServer;
  let proxy: ForwardProxy;
  let source: ArtifactServer;
  let ca: { readonly path: string; remove(): void };
  let kmsHost: string;
  let tls: TestTls;
  const agents: AgentProcess[] = [];
  const connects = (): number => proxy.seen.filter((s) => s === `CONNECT ${kmsHost}`).length;
  const decrypts = (): number => kms.calls.filter((c) => c.op === 'Decrypt' && c.outcome === 'ok').length;

  before(async () => {
    // kms.test for the agent (through the proxy), 127.0.0.1 for this process building the artifact.
    tls = makeTestTls(['kms.test', 'sts.test', '127.0.0.1']);
    ca = writeCaFile(tls);
    kms = await new KmsServer({ tls }).start();
    kmsHost = `kms.test:${kms.port}`;
    source = await new ArtifactServer().start();
    source.body = JSON.stringify(await kmsArtifact(kms, { keyId: kms.createKey(), payload: PAYLOAD, revision: 'kms-proxy-1' }));
    proxy = await new ForwardProxy().start();
  });
  after(async () => {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all([proxy?.close(), source?.close(), kms?.close()]);
    ca?.remove();
  });

  function agentEnv(extra: Record<string, string>): Record<string, string> {
    return {
      ...kms.env(),
      AWS_ENDPOINT_URL_KMS: `https://${kmsHost}`,
      NODE_EXTRA_CA_CERTS: ca.path,
      HTTPS_PROXY: proxy.url,
      NO_PROXY: 'unrelated.example',
      CLEF_AGENT_SOURCE: source.url(),
      CLEF_AGENT_TOKEN: newToken(),
      CLEF_AGENT_WORKERS: '1',
      CLEF_AGENT_LOG_LEVEL: 'debug',
      ...extra,
    };
  }

  describe('JIT mode: a KMS Decrypt per request', () => {
    let agent: AgentProcess;
    before(async () => {
      agent = new AgentProcess(agentEnv({ CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_MAX_STALE: '60' }));
      agents.push(agent);
      await agent.ready();
    });

    it('every Decrypt goes through the proxy as CONNECT kms.test:<port>, over reused tunnels; the loopback source does not', { timeout: 30_000 }, async () => {
      const before = decrypts();
      for (let i = 0; i < 4; i++) {
        const r = await agent.request('/v1/secrets');
        assert.equal(r.status, 200, r.body);
        assert.deepEqual(r.json(), PAYLOAD);
      }
      assert.equal(decrypts() - before, 4);
      // Only the proxy can have delivered these: the server saw the name, over TLS, signed for it.
      for (const c of kms.calls.filter((x) => x.op === 'Decrypt')) assert.equal(c.host, kmsHost);
      assert.ok(connects() >= 1, proxy.seen.join(', '));
      // Keep-alive through the proxy: fewer tunnels than calls (the load's Decrypt counts too).
      assert.ok(connects() < decrypts(), `${connects()} tunnels for ${decrypts()} calls`);
      assert.deepEqual(
        proxy.seen.filter((s) => s !== `CONNECT ${kmsHost}`),
        [],
        'the 127.0.0.1 source is fetched directly',
      );
    });

    it(
      'a proxy that never answers CONNECT: 503 kms_unavailable on the KMS connection timeout; the agent closes those tunnels and recovers',
      { timeout: 30_000 },
      async () => {
        proxy.stall = true;
        try {
          // Drop the pooled tunnel so the next call must CONNECT.
          proxy.dropAll();
          await sleep(200);
          const started = Date.now();
          assertErrorBody(await agent.request('/v1/secrets'), 503, 'kms_unavailable');
          // 1 s connection timeout per attempt: well under the 4 s whole-call bound.
          assert.ok(Date.now() - started < 4_000, `took ${Date.now() - started} ms`);
          assert.ok(proxy.stalledOpen >= 1);
        } finally {
          proxy.stall = false;
        }
        assert.equal((await agent.request('/v1/secrets')).status, 200);
        // The agent does not keep sockets to a proxy that never answered (1 s tunnel bound). An idle
        // piscina worker blocks its event loop, so that timer runs by the next task at the latest.
        await waitUntil(() => proxy.stalledOpen === 0, 3_000, 'stalled tunnels closed by the agent');
      },
    );

    it('§5.1: no data key, plaintext value or AWS secret reaches the logs', () => {
      for (const key of kms.handedOut) {
        for (const form of [key.toString('base64'), key.toString('hex')]) assert.ok(!agent.output.includes(form), 'a data key was logged');
      }
      assert.ok(!agent.output.includes(PAYLOAD.app.API_KEY));
      assert.ok(!agent.output.includes(KMS_TEST_CREDENTIALS.secretAccessKey));
    });
  });

  it('a web identity (IRSA) through the proxy: the STS exchange goes through it too, then every Decrypt', { timeout: 30_000 }, async (t) => {
    const token = 'eyJhbGciOiJSUzI1NiJ9.e30.Proxy-Irsa-Sig-3d9a';
    const roleArn = 'arn:aws:iam::111122223333:role/clef-agent';
    const irsa = await WebIdentity.start({ token, roleArn, issueTo: kms.sessions, tls });
    t.after(() => irsa.close());
    const sts = irsa.sts;
    // Like kms.test, sts.test is a name only the proxy can reach.
    const agent = new AgentProcess(irsa.env(agentEnv({ CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_MAX_STALE: '60' }), token, `https://sts.test:${sts.port}`));
    agents.push(agent);
    await agent.ready();
    const r = await agent.request('/v1/secrets');
    assert.equal(r.status, 200, r.body);
    assert.ok(proxy.seen.includes(`CONNECT sts.test:${sts.port}`), proxy.seen.join(', '));
    assert.ok(sts.calls.some((c) => c.outcome === 'ok'));
    const issued = new Set(sts.issued.map((c) => c.accessKeyId));
    assert.ok(
      kms.calls.some((c) => c.op === 'Decrypt' && c.outcome === 'ok' && issued.has(c.accessKeyId ?? '')),
      'Decrypt signed with the role’s credentials',
    );
    assert.ok(!agent.output.includes('Proxy-Irsa-Sig-3d9a'));
  });

  for (const noProxy of ['kms.test', 'unrelated.example,.test', 'kms.test:<port>']) {
    it(
      `NO_PROXY=${noProxy}: KMS is called directly, where kms.test does not resolve: kms_unavailable at start-up, the proxy saw nothing`,
      { timeout: 45_000 },
      async () => {
        const seen = proxy.seen.length;
        const agent = new AgentProcess(agentEnv({ NO_PROXY: noProxy.replace('<port>', String(kms.port)) }));
        agents.push(agent);
        assert.notEqual(await agent.exited(40_000), 0);
        assert.ok(agent.logs().some(invalid('kms_unavailable')), 'the load failed as kms_unavailable');
        assert.match(agent.stderr, /KMS could not be reached \(Error (ENOTFOUND|EAI_AGAIN)\)/);
        assert.equal(proxy.seen.length, seen, 'the proxy saw nothing');
      },
    );
  }

  it('a proxy refusing the tunnel (407): kms_unavailable saying so, not the proxy page read as a KMS answer', { timeout: 45_000 }, async () => {
    proxy.refuse = 407;
    try {
      const agent = new AgentProcess(agentEnv({}));
      agents.push(agent);
      assert.notEqual(await agent.exited(40_000), 0);
      assert.ok(agent.logs().some(invalid('kms_unavailable')), 'the load failed as kms_unavailable');
      assert.match(agent.stderr, new RegExp(`KMS could not be reached: the proxy refused the tunnel to ${kmsHost} \\(HTTP 407\\)`));
      assert.ok(!agent.output.includes('Access denied by the test proxy'));
    } finally {
      proxy.refuse = undefined;
    }
  });

  it('an HTTPS_PROXY that is not an http(s) URL: kms_unavailable naming the variable, never its value', { timeout: 45_000 }, async () => {
    const agent = new AgentProcess(agentEnv({ HTTPS_PROXY: 'socks5://proxy-user:Proxy-Pass-93d1@127.0.0.1:1080' }));
    agents.push(agent);
    assert.notEqual(await agent.exited(40_000), 0);
    assert.match(agent.stderr, /KMS cannot be called: HTTPS_PROXY must be an http:\/\/ or https:\/\/ proxy URL/);
    assert.ok(!agent.output.includes('Proxy-Pass-93d1'));
  });
});
