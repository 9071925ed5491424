/**
 * `watch()` of clef-agent/client against real agent processes polling a real artifact server:
 * the initial call, a rotation seen through one long-poll with no request in between (counted by
 * the agent's own request metrics), an agent restart survived without a repeated call for the same
 * artifact, and stop() ending an outstanding long-poll (the agent's waiter gauge drops to 0).
 * No timing assertions: every wait is bounded by the suite's timeout.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { createClient, type ClefAgentError, type Secrets, type Watcher } from '../../client/index.js';
import { ageKeyPair, artifactJson, type AgeKeyPair } from '../helpers/artifacts.js';
import { opsPort, samples, scrape } from '../helpers/ops.js';
import { polledAgentEnv } from '../helpers/scenario.js';
import { AgentProcess, suiteTempDirs, waitUntil } from '../kit/index.js';

const FIRST = { app: { API_KEY: 'watch-first' } };
const SECOND = { app: { API_KEY: 'watch-second' } };
const THIRD = { app: { API_KEY: 'watch-third' } };

/** Callbacks in order, and a way to wait for the n-th. */
class Seen {
  readonly calls: Secrets[] = [];
  readonly errors: ClefAgentError[] = [];
  readonly callback = (s: Secrets): void => void this.calls.push(s);
  readonly onError = (e: ClefAgentError): void => void this.errors.push(e);
  nth(n: number, timeoutMs = 40_000): Promise<Secrets> {
    return waitUntil(() => this.calls[n - 1], timeoutMs, `watch callback #${n}`);
  }
}

describe('clef-agent/client watch()', { timeout: 120_000 }, () => {
  const dirs = suiteTempDirs('clef-watch-');
  let key: AgeKeyPair;
  let server: ArtifactServer;
  let sock: string;
  const agents: AgentProcess[] = [];
  const watchers: Watcher[] = [];

  /** An agent on the artifact server and the socket, polling every 5 s, with the operations listener. */
  async function startAgent(): Promise<AgentProcess> {
    const agent = new AgentProcess(
      polledAgentEnv(key.identity, {
        CLEF_AGENT_SOURCE: server.url(),
        CLEF_AGENT_TOKEN: 'ab'.repeat(32),
        CLEF_AGENT_SOCKET: sock,
        CLEF_AGENT_PORT: 'off',
        CLEF_AGENT_OPS_ADDR: '127.0.0.1:0',
      }),
    );
    agents.push(agent);
    return agent.ready();
  }

  before(async () => {
    key = await ageKeyPair();
    server = await new ArtifactServer().start();
    server.body = await artifactJson({ recipient: key.recipient, payload: FIRST });
    sock = join(dirs.make(), 'agent.sock');
  });
  after(async () => {
    await Promise.all(watchers.map((w) => w.stop()));
    await Promise.all(agents.map((a) => a.stop()));
    await server?.close();
  });

  const client = () => createClient({ socketPath: sock, token: 'ab'.repeat(32), env: {} });

  it('calls back once initially, then on a rotation, with no request between but the one long-poll', async () => {
    const agent = await startAgent();
    const ops = await opsPort(agent);
    const seen = new Seen();
    watchers.push(client().watch(seen.callback, { waitSeconds: 120, onError: seen.onError }));
    assert.deepEqual(await seen.nth(1), FIRST);
    server.body = await artifactJson({ recipient: key.recipient, payload: SECOND });
    assert.deepEqual(await seen.nth(2), SECOND);
    // Completed /v1/secrets requests: the initial GET and the long-poll that brought the change
    // (the next long-poll is parked, not yet counted). Anything more would be polling.
    const s = await scrape(ops);
    const answered = samples(s, 'clef_agent_http_requests_total', { listener: 'api', route: 'secrets' }).reduce((n, m) => n + Number(m.value), 0);
    assert.equal(answered, 2, JSON.stringify(samples(s, 'clef_agent_http_requests_total', { route: 'secrets' })));
    assert.deepEqual(seen.errors, []);
    assert.equal(seen.calls.length, 2);
  });

  it('survives an agent restart: errors are retried, the same artifact is not reported again, the next rotation is', async () => {
    // The earlier test's watcher stops first: it would reconnect to the new agent too (its own
    // backoff), and the waiter gauge below must count this one alone.
    await Promise.all(watchers.splice(0).map((w) => w.stop()));
    const seen = new Seen();
    watchers.push(client().watch(seen.callback, { waitSeconds: 120, onError: seen.onError, maxBackoffMs: 500 }));
    assert.deepEqual(await seen.nth(1), SECOND);
    const old = agents.shift();
    assert.equal(await old?.stop(), 0);
    await waitUntil(() => seen.errors.length > 0, 30_000, 'the watcher noticing the agent is gone');
    assert.ok(
      seen.errors.every((e) => e.reason === 'unreachable' || e.status === 503),
      seen.errors.map((e) => e.message).join('\n'),
    );
    const agent = await startAgent();
    // Reconnected to the new agent: its waiter gauge shows the parked long-poll.
    const ops = await opsPort(agent);
    await waitUntil(async () => samples(await scrape(ops), 'clef_agent_long_poll_waiters')[0]?.value === '1', 30_000, 'the watcher waiting on the new agent');
    assert.equal(seen.calls.length, 1, 'the same artifact after the restart is no new revision');
    server.body = await artifactJson({ recipient: key.recipient, payload: THIRD });
    assert.deepEqual(await seen.nth(2), THIRD);
  });

  it('stop() ends an outstanding long-poll: it resolves, the agent has no waiter left, no callback follows', async () => {
    const agent = agents[agents.length - 1];
    assert.ok(agent);
    const ops = await opsPort(agent);
    // The other watchers stop first, so the gauge counts this one alone.
    await Promise.all(watchers.splice(0).map((w) => w.stop()));
    await waitUntil(async () => samples(await scrape(ops), 'clef_agent_long_poll_waiters')[0]?.value === '0', 30_000, 'no waiters');
    const seen = new Seen();
    const w = client().watch(seen.callback, { waitSeconds: 300, onError: seen.onError });
    await seen.nth(1);
    await waitUntil(async () => samples(await scrape(ops), 'clef_agent_long_poll_waiters')[0]?.value === '1', 30_000, 'the long-poll parked');
    // The wait is 300 s, far past this suite's timeout: only an abort ends it in time.
    await w.stop();
    await waitUntil(async () => samples(await scrape(ops), 'clef_agent_long_poll_waiters')[0]?.value === '0', 30_000, 'the waiter released');
    assert.equal(seen.calls.length, 1);
    assert.deepEqual(seen.errors, []);
    // A stopped watcher stays stopped.
    await w.stop();
  });
});
