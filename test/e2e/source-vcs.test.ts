/**
 * VCS sources through the real agent process: GitHub, GitLab and Bitbucket, each against a local
 * server reproducing its API (CLEF_AGENT_VCS_API_URL points at it). The agent serves the artifact,
 * polls with the ETag and gets 304, enforces the VCS identity/environment, and never logs the token.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { AgentProcess } from '../kit/index.js';
import { isEvent, newToken, polledAgentEnv } from '../helpers/scenario.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';
import { answer, VcsServer, type Provider } from '../../emulators/vcs-servers.js';

const PATH = '.clef/packed/api/production.age.json';
const REPOS: Record<Provider, string> = { github: 'acme/secrets', gitlab: 'acme/platform/secrets', bitbucket: 'acme/secrets' };
const cleanups: Array<() => Promise<unknown>> = [];
after(() => Promise.all(cleanups.map((c) => c())));

async function scenario(provider: Provider): Promise<{ agent: AgentProcess; server: VcsServer; token: string; payload: unknown }> {
  const key = await ageKeyPair();
  const token = `tok-${provider}-VcsTokenSecret-${newToken().slice(0, 8)}`;
  const server = await new VcsServer(provider, token, REPOS[provider]).start();
  cleanups.push(() => server.close());
  const payload = { app: { API_KEY: `${provider}-sourced-secret` } };
  server.put(PATH, await artifactJson({ recipient: key.recipient, payload, identity: 'api', environment: 'production' }));
  const agent = new AgentProcess(
    polledAgentEnv(key.identity, {
      CLEF_AGENT_VCS_PROVIDER: provider,
      CLEF_AGENT_VCS_REPO: REPOS[provider],
      CLEF_AGENT_VCS_TOKEN: token,
      CLEF_AGENT_VCS_IDENTITY: 'api',
      CLEF_AGENT_VCS_ENVIRONMENT: 'production',
      CLEF_AGENT_VCS_API_URL: server.apiUrl(),
    }),
  );
  cleanups.push(() => agent.stop());
  await agent.ready();
  return { agent, server, token, payload };
}

describe('VCS sources through the agent', { concurrency: 3 }, () => {
  for (const provider of ['github', 'gitlab', 'bitbucket'] as const) {
    it(`${provider}: serves the artifact, polls with If-None-Match (304), never logs the token`, { timeout: 60_000 }, async () => {
      const { agent, server, token, payload } = await scenario(provider);
      const r = await agent.request('/v1/secrets');
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json(), payload);
      await agent.logAfter(0, isEvent('artifact.unchanged'), 20_000);
      assert.ok(
        server.requests.some((q) => q.status === 304 && q.headers['if-none-match'] !== undefined),
        'a poll got 304',
      );
      assert.ok(!agent.output.includes(token), 'the VCS token is never logged');
      const label = String(agent.logs().find((l) => l.event === 'agent.starting')?.['source']);
      assert.equal(label, `${provider}:${REPOS[provider]}/${PATH}@default branch via ${server.apiUrl()}`);
    });
  }

  it('github: a rate-limited poll keeps serving, logs fetch.failed once per poll (not hammered)', { timeout: 60_000 }, async () => {
    const { agent, server } = await scenario('github');
    const before = server.requests.length;
    const mark = agent.logs().length;
    const reset = String(Math.floor(Date.now() / 1000) + 3600);
    server.overrides.push(answer(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': reset }));
    const line = await agent.logAfter(mark, isEvent('fetch.failed'), 20_000);
    assert.equal(line['status'], 403);
    assert.match(String(line.msg), /rate limited/);
    // That poll made exactly one request: a distant reset is not retried within the load.
    assert.equal(server.requests.slice(before).filter((q) => q.status === 403).length, 1);
    assert.equal((await agent.request('/v1/secrets')).status, 200);
  });
});
