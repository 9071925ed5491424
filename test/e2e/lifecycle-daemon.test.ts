/**
 * SPEC §6 daemon lifecycle through the real process: SIGTERM/SIGINT stop polling and accepting,
 * let in-flight requests finish (bounded), destroy the pool and exit 0; a second signal exits at
 * once. (The Lambda extension lifecycle is not implemented yet.)
 */
import { describe, it, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { assertErrorBody, sleep, waitUntil } from '../kit/index.js';
import { agentOn, isEvent, type Polled, startPolled } from '../helpers/scenario.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';

/**
 * An agent whose cache TTL ran out while its source hangs: a secrets request then waits (up to its
 * refresh deadline of a few seconds) for a refresh that cannot complete — a request that is
 * reliably in flight for a while.
 */
async function expiredWithHangingSource(t: TestContext): Promise<Polled> {
  const p = await startPolled({ payload: { app: { K: 'in-flight' } } });
  t.after(() => p.close());
  p.server.behaviour = { kind: 'hang' };
  await waitUntil(async () => (await p.get('/v1/ready')).status === 503, 45_000, 'cache_expired');
  assert.deepEqual((await p.get('/v1/ready')).json(), { ready: false, reason: 'cache_expired' });
  return p;
}

function connectable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

describe('§6 daemon lifecycle', { concurrency: true }, () => {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`§6: ${signal} stops polling and accepting, and exits 0`, { timeout: 45_000 }, async (t) => {
      const p = await startPolled({ payload: { app: { K: 'v' } } });
      t.after(() => p.close());
      const port = p.agent.port;
      p.agent.child.kill(signal);
      assert.equal(await p.agent.exited(20_000), 0);
      const events = p.agent.logs().map((l) => l.event);
      assert.ok(events.includes('agent.stopping'));
      assert.ok(events.includes('agent.stopped'));
      assert.equal(p.agent.logs().find(isEvent('agent.stopping'))?.['signal'], signal);
      assert.equal(await connectable(port), false, 'nothing listens after the stop');
      const fetches = p.server.requests.length;
      await sleep(6_000);
      assert.equal(p.server.requests.length, fetches, 'no poll after the stop');
    });
  }

  it('§6: SIGTERM lets an in-flight request finish before exiting 0', { timeout: 90_000 }, async (t) => {
    const p = await expiredWithHangingSource(t);
    const inFlight = p.get('/v1/secrets');
    await sleep(300);
    const from = p.mark();
    p.agent.child.kill('SIGTERM');
    await p.agent.logAfter(from, isEvent('agent.stopping'));
    // The request was accepted before the signal: it gets its complete answer, not a reset.
    const r = await inFlight;
    assertErrorBody(r, 503, 'cache_expired');
    assert.equal(await p.agent.exited(20_000), 0);
    assert.ok(p.agent.logs().some(isEvent('agent.stopped')));
  });

  it('§6: a second signal during the drain exits at once (non-zero)', { timeout: 90_000 }, async (t) => {
    const p = await expiredWithHangingSource(t);
    const inFlight = p.get('/v1/secrets').catch((err: unknown) => err);
    await sleep(300);
    const from = p.mark();
    p.agent.child.kill('SIGTERM');
    await p.agent.logAfter(from, isEvent('agent.stopping'));
    p.agent.child.kill('SIGINT');
    assert.equal(await p.agent.exited(20_000), 1);
    assert.ok(p.agent.logs().some(isEvent('agent.stop_forced')));
    assert.ok(!p.agent.logs().some(isEvent('agent.stopped')), 'it did not wait for the drain');
    await inFlight;
  });

  it('§6: SIGTERM during a start-up that is still loading exits 0', { timeout: 45_000 }, async (t) => {
    const key = await ageKeyPair();
    const server = await new ArtifactServer().start();
    t.after(() => server.close());
    server.body = await artifactJson({ recipient: key.recipient, payload: { app: { K: 'v' } } });
    server.behaviour = { kind: 'hang' };
    const agent = agentOn(t, server.url(), key.identity);
    await agent.listening();
    assert.equal((await agent.request('/v1/ready')).status, 503);
    assert.equal(await agent.stop(), 0);
    assert.ok(agent.logs().some(isEvent('agent.stopped')));
    assert.ok(!agent.stderr.includes('could not load'), 'a requested stop is not reported as a failed start-up');
  });
});
