/**
 * A poll that hangs must not hold up JIT requests (TASKS_PER_WORKER in common/limits.ts). With one worker
 * (the default on two cores) and one task per worker, a poll stuck on a source that never answers
 * occupied the only worker for the whole fetch timeout (10 s), and every JIT request queued behind
 * it ran out of its 5 s deadline: a source outage turned into 503s although the artifact in memory
 * was still valid. Here the source hangs, and while the poll is provably still waiting on it, JIT
 * requests are answered in full.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';
import { waitUntil } from '../kit/index.js';
import { type InProcessAgent, jitHttpEnv, outcome, startInProcess, tally } from '../helpers/jit-agent.js';

const TOKEN = 'p011s'.repeat(10);
const PAYLOAD = { app: { API_KEY: 'served-while-the-poll-hangs', OTHER: 'x' } };

describe('JIT: a hanging poll does not hold up requests (in-process agent, HTTP source, WORKERS=1)', { timeout: 90_000 }, () => {
  let server: ArtifactServer;
  let agent: InProcessAgent | undefined;

  before(async () => {
    const key = await ageKeyPair();
    server = await new ArtifactServer().start();
    server.body = await artifactJson({ recipient: key.recipient, payload: PAYLOAD });
    agent = await startInProcess(jitHttpEnv(server.url(), key.identity, TOKEN));
  });
  after(async () => {
    await agent?.close();
    await server?.close();
  });

  it('JIT requests made while the only worker waits on a hung source are all served (200, full payload)', async (t) => {
    const a = agent as InProcessAgent;
    assert.equal((await a.get('/v1/secrets')).status, 200);
    server.behaviour = { kind: 'hang' };
    const seen = server.requests.length;
    const failuresBefore = a.logs.filter((l) => l.event === 'fetch.failed').length;
    // The next poll reaches the source and hangs there, inside the only worker.
    await waitUntil(() => server.requests.length > seen || undefined, 20_000, 'the next poll reaching the source');

    const outcomes = await Promise.all(Array.from({ length: 12 }, () => outcome(a.get('/v1/secrets'))));
    const body = (await a.get('/v1/secrets')).json();
    // Still the same hung poll: no new request reached the source and no failed refresh was logged.
    const stillHanging = server.requests.length === seen + 1 && a.logs.filter((l) => l.event === 'fetch.failed').length === failuresBefore;
    t.diagnostic(`while the poll hung: ${JSON.stringify(tally(outcomes))}`);
    assert.ok(stillHanging, 'the poll was still waiting on the source while the requests were answered');
    assert.deepEqual(tally(outcomes), { '200': 12 });
    assert.deepEqual(body, PAYLOAD);
    server.behaviour = { kind: 'serve' };
  });
});
