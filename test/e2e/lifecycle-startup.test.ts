/**
 * SPEC §4.2 start-up through the real process: the first load makes 3 attempts of the whole load
 * (with backoff), the fetch retries only transient errors within an attempt, and after the last
 * attempt the process exits non-zero with a message naming the source (credentials masked) and a
 * hint. `/v1/ready` answers 503 `not_loaded` until the first artifact is verified and decrypted.
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { closedPort, type AgentProcess } from '../kit/index.js';
import { agentOn, isoIn } from '../helpers/scenario.js';
import { ArtifactServer, type Behaviour } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson, signingKey, type AgeKeyPair } from '../helpers/artifacts.js';

const USER = 'deploy-user-7c1';
const PASS = 'pw-9f8e7d6c5b';

interface Failed {
  readonly code: number | null;
  readonly stderr: string;
  readonly output: string;
  readonly requests: number;
  readonly agent: AgentProcess;
}

/** Start an agent whose first load must fail; returns its exit and what the server saw. */
async function failedStart(
  t: TestContext,
  o: { behaviour?: Behaviour; body?: (k: AgeKeyPair) => Promise<string>; env?: Record<string, string>; source?: string },
): Promise<Failed> {
  const key = await ageKeyPair();
  const server = await new ArtifactServer().start();
  t.after(() => server.close());
  if (o.behaviour) server.behaviour = o.behaviour;
  server.body = o.body ? await o.body(key) : await artifactJson({ recipient: key.recipient, payload: { app: { K: 'v' } } });
  const agent = agentOn(t, o.source ?? `http://${USER}:${PASS}@127.0.0.1:${server.port}/packed/api.age.json`, key.identity, o.env);
  const code = await agent.exited(40_000);
  return { code, stderr: agent.stderr, output: agent.output, requests: server.requests.length, agent };
}

/** The final message: names the (masked) source, says 3 attempts, and carries the hint. */
function assertFinalMessage(f: Failed, hint: RegExp, source = /http:\/\/\*\*\*@127\.0\.0\.1:\d+\/packed\/api\.age\.json/): void {
  assert.notEqual(f.code, 0, 'exits non-zero');
  assert.notEqual(f.code, null, 'exits by itself');
  assert.match(f.stderr, /could not load the artifact from /);
  assert.match(f.stderr, source, 'names the source, credentials masked');
  assert.match(f.stderr, /after 3 attempts/);
  assert.match(f.stderr, hint);
  assert.ok(!f.output.includes(PASS), 'the password never appears in stdout or stderr');
  assert.ok(!f.output.includes(USER), 'nor the user name');
  const attempts = f.agent.logs().filter((l) => l.event === 'startup.attempt_failed');
  assert.deepEqual(
    attempts.map((l) => l['attempt']),
    [1, 2, 3],
  );
}

describe('§4.2 start-up failures', { concurrency: true }, () => {
  it('§4.2: source 404 → exits non-zero after 3 attempts (404 is not retried within an attempt) with the not-packed hint', { timeout: 45_000 }, async (t) => {
    const f = await failedStart(t, { behaviour: { kind: 'status', status: 404 } });
    assertFinalMessage(f, /Hint: not found: the artifact is not packed yet, or the credentials have no access/);
    assert.equal(f.requests, 3, 'one request per attempt');
  });

  it('§4.2: source 403 → exits non-zero after 3 attempts with the access hint', { timeout: 45_000 }, async (t) => {
    const f = await failedStart(t, { behaviour: { kind: 'status', status: 403 } });
    assertFinalMessage(f, /Hint: access denied/);
    assert.equal(f.requests, 3, 'a plain 403 is not retried within an attempt');
  });

  it('§4.2: source 401 → exits non-zero with the access hint', { timeout: 45_000 }, async (t) => {
    const f = await failedStart(t, { behaviour: { kind: 'status', status: 401 } });
    assertFinalMessage(f, /Hint: access denied/);
    assert.equal(f.requests, 3);
  });

  it('§4.2: source 500 → retried as transient within each attempt, then exits with the status hint', { timeout: 45_000 }, async (t) => {
    const f = await failedStart(t, { behaviour: { kind: 'status', status: 500 } });
    assertFinalMessage(f, /answered HTTP 500.*Hint: the source answered an error status/s);
    assert.ok(f.requests > 3, `5xx is retried within an attempt (saw ${f.requests} requests)`);
    assert.equal(f.requests % 3, 0, 'every attempt makes the same number of tries');
  });

  it('§4.2: source 429 is transient: retried within each attempt, then exits with the status hint', { timeout: 45_000 }, async (t) => {
    const f = await failedStart(t, { behaviour: { kind: 'status', status: 429, headers: { 'Retry-After': '0' } } });
    assertFinalMessage(f, /answered HTTP 429.*Hint: the source answered an error status/s);
    assert.ok(f.requests > 3, `saw ${f.requests} requests`);
  });

  it('§4.2: a rate-limit 403 (Retry-After) is transient and retried within an attempt', { timeout: 45_000 }, async (t) => {
    const f = await failedStart(t, { behaviour: { kind: 'status', status: 403, headers: { 'Retry-After': '0' } } });
    assertFinalMessage(f, /Hint: access denied/);
    assert.ok(f.requests > 3, `saw ${f.requests} requests`);
  });

  it('§4.2: connection refused (closed port) → exits non-zero with the network hint', { timeout: 45_000 }, async (t) => {
    const port = await closedPort();
    const f = await failedStart(t, { source: `http://${USER}:${PASS}@127.0.0.1:${port}/packed/api.age.json` });
    assertFinalMessage(f, /Hint: network: the source could not be reached/);
    assert.match(f.stderr, /ECONNREFUSED|network error/);
  });

  it('§4.2: revoked at start-up → exits non-zero with the revoked hint', { timeout: 45_000 }, async (t) => {
    const f = await failedStart(t, { body: () => Promise.resolve(JSON.stringify({ revokedAt: '2026-01-01T00:00:00Z' })) });
    assertFinalMessage(f, /Hint: the artifact is revoked/);
    assert.equal(f.requests, 3);
  });

  it('§4.2: a wrong age key → exits non-zero with the decrypt hint', { timeout: 45_000 }, async (t) => {
    const stranger = await ageKeyPair();
    const f = await failedStart(t, { body: () => artifactJson({ recipient: stranger.recipient, payload: { app: { K: 'v' } } }) });
    assertFinalMessage(f, /not a recipient of this artifact.*Hint: decryption: check that the age key/s);
    assert.ok(!f.output.includes('AGE-SECRET-KEY'), 'the key is never printed');
  });

  it('§4.2: an artifact already expired at start-up → exits non-zero with the expiry hint', { timeout: 45_000 }, async (t) => {
    const f = await failedStart(t, { body: (k) => artifactJson({ recipient: k.recipient, payload: { app: { K: 'v' } }, expiresAt: isoIn(-60_000) }) });
    assertFinalMessage(f, /Hint: the artifact is past its expiresAt/);
  });

  it('§4.2: an unsigned artifact with CLEF_AGENT_VERIFY_KEY → exits non-zero with the signature hint', { timeout: 45_000 }, async (t) => {
    const f = await failedStart(t, { env: { CLEF_AGENT_VERIFY_KEY: signingKey('ed25519').verifyKey } });
    assertFinalMessage(f, /Hint: signature: check CLEF_AGENT_VERIFY_KEY/);
  });

  it('§4.2: a file source that does not exist → exits non-zero naming the path', { timeout: 45_000 }, async (t) => {
    const f = await failedStart(t, { source: '/nonexistent/clef/artifact.json' });
    assertFinalMessage(f, /Hint: the artifact file could not be read/, /\/nonexistent\/clef\/artifact\.json/);
  });
});

describe('§4.2 start-up success', { concurrency: true }, () => {
  it('§4.2: a good artifact → ready; /v1/ready is 503 not_loaded until the first artifact is decrypted', { timeout: 45_000 }, async (t) => {
    const key = await ageKeyPair();
    const server = await new ArtifactServer().start();
    t.after(() => server.close());
    server.body = await artifactJson({ recipient: key.recipient, payload: { app: { API_KEY: 'startup-ok' } }, revision: 'rev-startup' });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    // The first fetch is held until the test has seen the not-ready state.
    server.behaviour = {
      kind: 'custom',
      handler: (_req, res) => {
        void gate.then(() => {
          res.writeHead(200, { 'Content-Type': 'application/json' });
          res.end(server.body);
        });
      },
    };
    const agent = agentOn(t, server.url(), key.identity);
    await agent.listening();
    const before = await agent.request('/v1/ready');
    assert.equal(before.status, 503);
    assert.deepEqual(before.json(), { ready: false, reason: 'not_loaded' });
    const secrets = await agent.request('/v1/secrets');
    assert.equal(secrets.status, 503);
    assert.equal(secrets.json<{ reason: string }>().reason, 'not_loaded');
    const h = await agent.request('/v1/health');
    assert.equal(h.status, 200);
    assert.equal(h.json<{ revision: unknown }>().revision, null);
    release();
    await agent.ready();
    assert.deepEqual((await agent.request('/v1/ready')).json(), { ready: true });
    assert.deepEqual((await agent.request('/v1/secrets')).json(), { app: { API_KEY: 'startup-ok' } });
    const hh = (await agent.request('/v1/health')).json<Record<string, unknown>>();
    assert.equal(hh['status'], 'ok');
    assert.equal(hh['mode'], 'cached');
    assert.equal(hh['revision'], 'rev-startup');
    assert.equal(typeof hh['lastRefreshAt'], 'number');
    assert.equal(hh['expired'], false);
  });

  it('§4.2: a transient failure on the first attempt is recovered by a later attempt', { timeout: 45_000 }, async (t) => {
    const key = await ageKeyPair();
    const server = await new ArtifactServer().start();
    t.after(() => server.close());
    server.body = await artifactJson({ recipient: key.recipient, payload: { app: { API_KEY: 'second-attempt' } } });
    server.behaviour = { kind: 'status', status: 404 };
    const agent = agentOn(t, server.url(), key.identity);
    await agent.waitForLog((l) => l.event === 'startup.attempt_failed' && l['attempt'] === 1);
    server.behaviour = { kind: 'serve' };
    await agent.ready();
    assert.deepEqual((await agent.request('/v1/secrets')).json(), { app: { API_KEY: 'second-attempt' } });
    assert.equal(agent.child.exitCode, null);
  });
});
