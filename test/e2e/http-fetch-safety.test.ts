/**
 * SPEC §5.1 fetch safety, end to end through the real agent and a real artifact server: redirects
 * are followed only to https on the same host, credentials never go to another host, link-local
 * (cloud metadata) addresses are never reached, and the size cap counts decompressed bytes. Each
 * case makes the first load fail, so the agent exits non-zero with a message (SPEC §4.2).
 */
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { AgentProcess } from '../kit/index.js';
import { TOKEN } from '../helpers/http-fixtures.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson, buildArtifact, samplePayload, type AgeKeyPair } from '../helpers/artifacts.js';
import { gzipSync } from 'node:zlib';

/** A TCP server that only counts connections: proof that nothing was sent to it. */
class ConnectionCounter {
  connections = 0;
  private readonly server = net.createServer((s) => {
    this.connections++;
    s.destroy();
  });
  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return this;
  }
  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }
  close(): Promise<void> {
    return new Promise((r) => this.server.close(() => r()));
  }
}

describe('§5.1 fetch safety (first load over HTTP)', { timeout: 120_000, concurrency: true }, () => {
  let key: AgeKeyPair;
  const cleanups: Array<() => Promise<unknown>> = [];
  before(async () => {
    key = await ageKeyPair();
  });
  after(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function server(): Promise<ArtifactServer> {
    const s = await new ArtifactServer().start();
    cleanups.push(() => s.close());
    return s;
  }
  async function counter(): Promise<ConnectionCounter> {
    const c = await new ConnectionCounter().start();
    cleanups.push(() => c.close());
    return c;
  }
  /** Run the agent on `source` until it exits (bounded); returns the exit code and output. */
  async function runAgent(source: string, env: Record<string, string> = {}): Promise<{ code: number | null; agent: AgentProcess }> {
    const agent = new AgentProcess({ CLEF_AGENT_SOURCE: source, CLEF_AGENT_AGE_KEY: key.identity, CLEF_AGENT_TOKEN: TOKEN, CLEF_AGENT_WORKERS: '1', ...env });
    cleanups.push(() => agent.stop());
    const code = await agent.exited(60_000);
    assert.ok(!agent.logs().some((l) => l.event === 'artifact.refreshed'), 'nothing was loaded');
    return { code, agent };
  }

  it('§5.1 fetch: a redirect to plain http (same host, other port) is not followed', async () => {
    const src = await server();
    const target = await server();
    target.body = await artifactJson({ recipient: key.recipient, payload: samplePayload('REDIR') });
    src.behaviour = { kind: 'redirect', location: target.url() };
    const { code, agent } = await runAgent(src.url());
    assert.notEqual(code, 0);
    assert.equal(target.requests.length, 0, 'the redirect target was never contacted');
    assert.ok(src.requests.length >= 1);
    assert.match(agent.stderr, /redirect/i);
  });

  it('§5.1 fetch: a redirect to https on another host is not followed (no connection to it)', async () => {
    const src = await server();
    const other = await counter();
    src.behaviour = { kind: 'redirect', location: `https://localhost:${other.port}/artifact.json`, status: 301 };
    const { code, agent } = await runAgent(src.url());
    assert.notEqual(code, 0);
    assert.equal(other.connections, 0, 'no TCP connection to the other host');
    assert.match(agent.stderr, /redirect/i);
  });

  it('§5.1 fetch: credentials in the source URL are never forwarded to another host on redirect, and never printed', async () => {
    const src = await server();
    const other = await counter();
    src.behaviour = { kind: 'redirect', location: `https://localhost:${other.port}/steal`, status: 307 };
    const url = new URL(src.url());
    url.username = 'svc';
    url.password = 'pw-S3CRET-redirect';
    const { code, agent } = await runAgent(url.toString());
    assert.notEqual(code, 0);
    // Sent to the source host itself (as Basic auth), never to the other one.
    assert.match(String(src.requests[0]?.headers['authorization']), /^Basic /);
    assert.equal(other.connections, 0, 'credentials not forwarded: no connection to the other host');
    assert.ok(!agent.output.includes('pw-S3CRET-redirect'), 'the URL password never appears in logs or errors');
  });

  for (const [label, source] of [
    ['169.254.169.254 (IMDS)', 'http://169.254.169.254/latest/meta-data/'],
    ['169.254.170.2 (ECS task metadata)', 'http://169.254.170.2/v2/credentials'],
    ['[fe80::1] (IPv6 link-local)', 'http://[fe80::1]/artifact.json'],
    ['[::ffff:169.254.169.254] (IPv4-mapped)', 'http://[::ffff:169.254.169.254]/artifact.json'],
    ['[64:ff9b::a9fe:a9fe] (NAT64 of 169.254.169.254)', 'http://[64:ff9b::a9fe:a9fe]/artifact.json'],
    ['[2002:a9fe:a9fe::] (6to4 of 169.254.169.254)', 'http://[2002:a9fe:a9fe::]/artifact.json'],
  ] as const) {
    it(`§5.1 fetch: never reaches link-local addresses: ${label} → refused, non-zero exit`, async () => {
      const { code, agent } = await runAgent(source, { CLEF_AGENT_ALLOW_HTTP: 'true' });
      assert.notEqual(code, 0);
      assert.ok(agent.logs().some((l) => l['code'] === 'forbidden_address') || /link-local/i.test(agent.stderr), agent.output);
    });
  }

  it('§5.1 fetch: a redirect to a link-local address is not followed', async () => {
    const src = await server();
    src.behaviour = { kind: 'redirect', location: 'https://169.254.169.254/latest/meta-data/' };
    const { code, agent } = await runAgent(src.url());
    assert.notEqual(code, 0);
    assert.match(agent.stderr, /redirect/i);
  });

  it('§5.1 fetch: the artifact size cap counts bytes after decompression (gzip)', async () => {
    const src = await server();
    // Unknown fields are ignored (SPEC §2), so padding keeps the artifact valid but large.
    const artifact = await buildArtifact({ recipient: key.recipient, payload: { A: 'x' }, mutate: (a) => void (a['padding'] = ' '.repeat(200_000)) });
    src.body = JSON.stringify(artifact);
    src.gzip = true;
    const compressed = gzipSync(Buffer.from(src.body)).length;
    assert.ok(compressed < 1024 && Buffer.byteLength(src.body) > 1024, `fixture: ${compressed} bytes compressed`);
    const { code, agent } = await runAgent(src.url(), { CLEF_AGENT_MAX_ARTIFACT_BYTES: '1024' });
    assert.notEqual(code, 0);
    assert.ok(agent.logs().some((l) => l['code'] === 'too_large') || /larger than|cap/i.test(agent.stderr), agent.output);
  });

  it('§5.1 fetch: control — the same gzip artifact under a cap that fits is served', async () => {
    const src = await server();
    src.body = await artifactJson({ recipient: key.recipient, payload: samplePayload('GZ'), mutate: (a) => void (a['padding'] = ' '.repeat(200_000)) });
    src.gzip = true;
    const agent = new AgentProcess({
      CLEF_AGENT_SOURCE: src.url(),
      CLEF_AGENT_AGE_KEY: key.identity,
      CLEF_AGENT_TOKEN: TOKEN,
      CLEF_AGENT_WORKERS: '1',
      CLEF_AGENT_MAX_ARTIFACT_BYTES: String(1024 * 1024),
    });
    cleanups.push(() => agent.stop());
    await agent.ready(30_000);
    assert.deepEqual((await agent.request('/v1/secrets')).json(), samplePayload('GZ'));
  });
});
