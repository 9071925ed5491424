/**
 * The health endpoint stays instant however hard the secrets routes are hit (SPEC §1:
 * the event loop that answers /v1/health never stalls), as a functional check on the real agent
 * process: while 16 clients keep every worker busy with 1 MB JIT decryptions (all within the
 * queue bound, so every one must succeed), sequential /v1/health and /v1/ready probes all
 * complete with 200. Completions are counted; no wall-clock thresholds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type AgentProcess, request, sleep } from '../kit/index.js';
import { type FileAgent, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';
import { bounded, largePayload, outcome, type Outcome, tally } from '../helpers/jit-agent.js';

const PAYLOAD = largePayload(1000, 1024, 'EL');
const CLIENTS = 16;
const PROBES = 150;

describe('JIT event loop: JIT secrets saturated, health and ready keep answering (WORKERS=2, 1000 keys × 1 KiB)', { timeout: 120_000 }, () => {
  let fa: FileAgent | undefined;
  let agent: AgentProcess | undefined;

  before(async () => {
    fa = await startFileAgent({ payload: PAYLOAD, env: { CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_WORKERS: '2' }, waitReady: false });
    agent = fa.agent;
    await fa.agent.ready(60_000);
  });
  after(() => fa?.close());

  it('JIT: while /v1/secrets is saturated, every one of 150 sequential /v1/health and /v1/ready probes completes with 200', { timeout: 60_000 }, async (t) => {
    const a = agent as AgentProcess;
    let stop = false;
    const secrets: Outcome[] = [];
    const routes = ['/v1/secrets', '/v1/secrets', '/v1/keys', '/v1/secrets/app__KEY_000999'];
    const saturate = bounded(CLIENTS, CLIENTS, async (c) => {
      for (let i = 0; !stop; i++) secrets.push(await outcome(request(a.port, routes[(c + i) % routes.length] as string, { token: TOKEN, timeoutMs: 60_000 })));
    });
    // Probe only once the secrets routes are busy.
    while (secrets.length < CLIENTS) await sleep(5);
    const probes: Outcome[] = [];
    const before = secrets.length;
    for (let i = 0; i < PROBES; i++) probes.push(await outcome(request(a.port, i % 3 === 2 ? '/v1/ready' : '/v1/health', { timeoutMs: 60_000 })));
    const during = secrets.length - before;
    stop = true;
    await saturate;
    t.diagnostic(`probes: ${JSON.stringify(tally(probes))}; secrets answers during the probes: ${during}; all: ${JSON.stringify(tally(secrets))}`);
    assert.deepEqual(tally(probes), { '200': PROBES }, 'every probe answered 200');
    assert.ok(during >= CLIENTS, 'the secrets routes stayed busy while the probes ran');
    assert.deepEqual(tally(secrets), { '200': secrets.length }, 'within the queue bound every secrets request succeeds');
  });
});
