/**
 * HTTP fuzz (SPEC §5, §5.1): generated raw HTTP/1.1 requests over TCP to real agent processes (one
 * cached, one JIT), pipelined and written in pieces, half-closed or cut. Asserted after every case:
 * the agent is alive, every response is well-formed HTTP/1.1 with an allowed status, a connection
 * that never carried the token receives no secret, the token is never echoed; with the token, a
 * well-formed request gets exactly the answer its route implies. After each property the agent's
 * connections and open fds return to their baseline. Time-boxed: see budget.ts.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { REASONS, type Reason } from '../../common/reasons.js';
import { samplePayload } from '../helpers/artifacts.js';
import { startFileAgent, type FileAgent } from '../helpers/http-fixtures.js';
import { openConnections, waitUntil } from '../kit/index.js';
import { budget } from './budget.js';
import { connectionArb, type Target } from './http-gen.js';
import { oracleArb, type Payload } from './http-oracle.js';
import { exchange, parseResponses, requestOnce, type WireResponse } from './http-wire.js';

/**
 * Final statuses a response may have. From the agent's gates and reasons (common/reasons.ts, SPEC
 * §5): 200, 400 proxied_request, 401, 403, 404, 405, 409, 429, 503. From src/http/server.ts's
 * `clientError` handler, for requests Node's parser refuses: 400, 431 (headers over the cap), 408
 * (a request or headers time-out). From Node itself: 417 for an `Expect` other than
 * 100-continue (no `checkExpectation` listener). Not allowed: 500 (the handler's catch-all for a
 * bug), 413/505 (node:http never sends them; a malformed version is a parse error, 400).
 * Interim: 100 Continue, which Node sends for `Expect: 100-continue`.
 */
const FINAL = new Set([200, 400, 401, 403, 404, 405, 408, 409, 417, 429, 431, 503]);
const INTERIM = new Set([100]);

const tag = `FZ${randomBytes(6).toString('hex')}`;
const payload: Payload = samplePayload(tag);
const secretValues = Object.values(payload).flatMap((ns) => Object.values(ns));
const agents: FileAgent[] = [];
const baselineFds: number[] = [];

const fdCount = (pid: number): number => readdirSync(`/proc/${pid}/fd`).length;

function alive(fa: FileAgent): void {
  const c = fa.agent.child;
  assert.ok(c.exitCode === null && c.signalCode === null, `the agent exited (${c.exitCode ?? c.signalCode})\n${fa.agent.output.slice(-3000)}`);
}

/** Every agent answer with a JSON error body names a reason whose status is the answer's. */
function checkErrorBody(r: WireResponse): void {
  if (r.status < 400 || r.body.length === 0) return;
  assert.match(r.headers.get('content-type') ?? '', /^application\/json/);
  const b = JSON.parse(r.body.toString('utf8')) as { error?: unknown; reason?: unknown };
  assert.equal(typeof b.error, 'string');
  const info = REASONS[b.reason as Reason];
  assert.ok(info, `unknown reason ${String(b.reason)}`);
  assert.equal(info.status, r.status, `reason ${String(b.reason)} with status ${r.status}`);
}

/** Waits until `fa` holds no client connection and no more fds than at the start. */
async function settled(fa: FileAgent, i: number): Promise<void> {
  const pid = fa.agent.child.pid as number;
  await waitUntil(
    () => openConnections(pid, fa.agent.port) === 0 && fdCount(pid) <= (baselineFds[i] ?? 0),
    15_000,
    `agent ${i}: connections closed and fds back to ${baselineFds[i]} (now ${fdCount(pid)}, ${openConnections(pid, fa.agent.port)} connections)`,
  );
}

describe('HTTP fuzz against real agents', { timeout: 600_000 }, () => {
  before(async () => {
    const started = await Promise.all([startFileAgent({ payload }), startFileAgent({ payload, env: { CLEF_AGENT_CACHE_TTL: '0' } })]);
    agents.push(...started);
    for (const fa of agents) {
      // One answered request first, so lazily opened fds (e.g. the JIT pool's) are in the baseline.
      assert.equal((await fa.agent.request('/v1/secrets')).status, 200);
    }
    for (const [i, fa] of agents.entries()) {
      await waitUntil(() => openConnections(fa.agent.child.pid as number, fa.agent.port) === 0, 10_000, 'warm-up connection closed');
      baselineFds[i] = fdCount(fa.agent.child.pid as number);
    }
  });
  after(async () => {
    await Promise.all(agents.map((fa) => fa.close()));
  });

  it('§5.1: malformed, pipelined, partial requests never crash the agent, get allowed statuses, leak no secret, leak no socket', async () => {
    const b = budget('http chaos', 3, 300);
    const targets: Target[] = agents.map((fa) => ({ port: fa.agent.port, token: fa.agent.token }));
    let cases = 0;
    let responses = 0;
    await fc.assert(
      fc.asyncProperty(connectionArb(targets), async (c) => {
        cases++;
        const fa = agents[c.agent] as FileAgent;
        const sent = Buffer.from(c.requests.map((r) => r.text).join(''), 'utf8');
        const x = await exchange(fa.agent.port, sent, { ...c, timeoutMs: 15_000 });
        alive(fa);
        const rs = parseResponses(x.received, c.finish === 'cut');
        responses += rs.length;
        for (const r of rs) {
          assert.ok(FINAL.has(r.status) || INTERIM.has(r.status), `status ${r.status} is not one the agent may answer`);
          checkErrorBody(r);
        }
        const got = x.received.toString('latin1');
        assert.ok(!got.includes(fa.agent.token), 'the token appears in a response');
        if (!sent.includes(fa.agent.token)) {
          for (const v of [tag, ...secretValues])
            assert.ok(!got.includes(v), `a secret reached a connection without the token: ${JSON.stringify(got.slice(0, 300))}`);
        }
      }),
      b.fc(),
    );
    console.log(`${b.summary(cases)}; ${responses} responses`);
    for (const [i, fa] of agents.entries()) {
      alive(fa);
      await settled(fa, i);
    }
  });

  it('§5: with the token, every route answers as its spelling implies (status, body, HEAD without body)', async () => {
    const b = budget('http oracle', 1.5, 200);
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: agents.length - 1 }).chain((i) => {
          const fa = agents[i] as FileAgent;
          return oracleArb({ port: fa.agent.port, token: fa.agent.token }, payload).map((o) => ({ i, o }));
        }),
        async ({ i, o }) => {
          const fa = agents[i] as FileAgent;
          cases++;
          const r = await requestOnce(fa.agent.port, o.text, o.method === 'HEAD', 15_000);
          const e = o.expected;
          assert.equal(r.status, e.status, `${o.method} ${o.target}: ${r.body.toString('utf8').slice(0, 200)}`);
          if (o.method === 'HEAD') assert.equal(r.body.length, 0, 'HEAD answered with a body');
          if (e.status !== 200 || o.method !== 'HEAD') {
            const text = r.body.toString('utf8');
            if ('json' in e) assert.deepEqual(JSON.parse(text), e.json);
            else if ('text' in e) {
              assert.match(r.headers.get('content-type') ?? '', /^text\/plain/);
              assert.equal(text, e.text);
            } else if (o.method !== 'HEAD') {
              const body = JSON.parse(text) as { reason: string; candidates?: string[] };
              assert.equal(body.reason, e.reason);
              if ('candidates' in e) assert.deepEqual(body.candidates, e.candidates);
            }
          }
          if (e.status === 405) assert.equal(r.headers.get('allow'), 'GET, HEAD');
          if (o.target.startsWith('/v1/secrets') || o.target.startsWith('/v1/keys')) assert.equal(r.headers.get('cache-control'), 'no-store');
          alive(fa);
        },
      ),
      b.fc(),
    );
    console.log(b.summary(cases));
    for (const [i, fa] of agents.entries()) await settled(fa, i);
  });
});
