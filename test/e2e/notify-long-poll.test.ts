/**
 * SPEC §10.2 long polls against the real agent polling a real artifact server (POLL_INTERVAL 5 s,
 * the smallest allowed): `?wait` with `If-None-Match` parks the request until the artifact changes
 * (200 with the new tag — also when only the ciphertext changed, values equal) or the wait ends
 * (304); at most CLEF_AGENT_MAX_WAITERS (2 here) are parked, beyond that 503 overloaded; a client
 * that goes away frees its place; a revocation answers waiters with the state's error, never
 * secrets or a 304; a stop (SIGTERM) answers every waiter before the process exits by itself; long
 * polls never take the connections that probes and other requests need (MAX_CONNECTIONS=8: 7 park).
 * Whether a request is parked is read from the `clef_agent_long_poll_waiters` gauge, not guessed
 * from time.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { opsPort, scrape, value } from '../helpers/ops.js';
import { refreshed, startPolled, type Polled } from '../helpers/scenario.js';
import { assertErrorBody, waitUntil, type HttpAnswer } from '../kit/index.js';

const PAYLOAD = { app: { API_KEY: 'long-poll-value', DB: 'postgres://long-poll' } };

describe('§10.2 long polls', { concurrency: true }, () => {
  for (const mode of ['cached', 'jit'] as const) {
    describe(`§10.2 long polls, ${mode} mode (MAX_WAITERS=2)`, { timeout: 90_000, concurrency: false }, () => {
      let p: Polled;
      let ops: number;

      before(async () => {
        p = await startPolled({
          payload: PAYLOAD,
          env: {
            CLEF_AGENT_MAX_WAITERS: '2',
            CLEF_AGENT_OPS_ADDR: '127.0.0.1:0',
            ...(mode === 'jit' ? { CLEF_AGENT_CACHE_TTL: '0' } : {}),
          },
        });
        ops = await opsPort(p.agent);
      });
      after(() => p?.close());

      const tagOf = async (path: string): Promise<string> => {
        const r = await p.get(path);
        assert.equal(r.status, 200, r.body);
        return String(r.headers.etag);
      };
      const poll = (path: string, tag: string, wait: number, o: { timeoutMs?: number; method?: string } = {}): Promise<HttpAnswer> =>
        p.agent.request(`${path}?wait=${wait}`, { headers: { 'if-none-match': tag }, ...o });
      const parked = async (): Promise<number> => value(await scrape(ops), 'clef_agent_long_poll_waiters');
      const parkedAre = (n: number): Promise<number> => waitUntil(async () => (await parked()) === n && n, 10_000, `${n} parked long polls`);

      it('§10.2 the wait ends with 304 and the same tag (and HEAD likewise); a stale tag with ?wait is answered at once', async () => {
        const tag = await tagOf('/v1/secrets');
        const [get, head] = await Promise.all([poll('/v1/secrets', tag, 1), poll('/v1/secrets', tag, 1, { method: 'HEAD' })]);
        for (const r of [get, head]) {
          assert.equal(r.status, 304);
          assert.equal(r.bytes.length, 0);
          assert.equal(r.headers.etag, tag);
          assert.equal(r.headers['cache-control'], 'no-store');
        }
        const stale = await poll('/v1/secrets', '"an-older-tag"', 300);
        assert.equal(stale.status, 200);
        assert.deepEqual(stale.json(), PAYLOAD);
        assert.equal(stale.headers.etag, tag);
        assert.equal(await parked(), 0);
      });

      it('§10.2 at most MAX_WAITERS parked: the next is 503 overloaded; clients that go away free their places', async () => {
        const tag = await tagOf('/v1/keys');
        const gone = [abortable(p.agent.port, '/v1/keys?wait=300', tag, p.agent.token), abortable(p.agent.port, '/v1/keys?wait=300', tag, p.agent.token)];
        await parkedAre(2);
        const refused = await poll('/v1/keys', tag, 300);
        assertErrorBody(refused, 503, 'overloaded');
        assert.equal(refused.headers['retry-after'], '1');
        // The two clients disconnect: their places are freed, not held until their wait would end.
        for (const g of gone) g.abort();
        await parkedAre(0);
        const again = await Promise.all([poll('/v1/keys', tag, 1), poll('/v1/keys', tag, 1)]);
        assert.deepEqual(
          again.map((r) => r.status),
          [304, 304],
        );
      });

      it('§10.2 a new artifact wakes every waiter with 200 and a new tag, even with equal values (new ciphertext)', async () => {
        const secretsTag = await tagOf('/v1/secrets');
        const keyTag = await tagOf('/v1/secrets/app__API_KEY');
        const waiting = [poll('/v1/secrets', secretsTag, 60), poll('/v1/secrets/app__API_KEY', keyTag, 60)];
        await parkedAre(2);
        // The same values, encrypted again: another ciphertext, so another revision to tell about.
        await p.swap(await p.artifact({ payload: PAYLOAD, revision: `rev-same-values-${mode}` }), refreshed(`rev-same-values-${mode}`));
        const [all, one] = await Promise.all(waiting);
        assert.equal(all?.status, 200, all?.body);
        assert.deepEqual(all?.json(), PAYLOAD);
        assert.notEqual(all?.headers.etag, secretsTag, 'equal values, different ciphertext: a different tag');
        assert.equal(all?.headers.etag, await tagOf('/v1/secrets'), 'the tag of the new revision');
        assert.equal(one?.status, 200, one?.body);
        assert.deepEqual(one?.json(), { key: 'app__API_KEY', value: PAYLOAD.app.API_KEY });
        assert.notEqual(one?.headers.etag, keyTag);
        // The old tag no longer matches: answered at once.
        assert.equal((await p.get('/v1/secrets')).headers.etag, all?.headers.etag);
        assert.equal((await poll('/v1/secrets', secretsTag, 300)).status, 200);
      });

      if (mode === 'cached') {
        it('§10.2 a revocation wakes waiters with 503 revoked: never secrets, never a 304, also for the tag they held', async () => {
          const tag = await tagOf('/v1/secrets');
          const waiting = [poll('/v1/secrets', tag, 60), poll('/v1/secrets', tag, 60, { method: 'HEAD' })];
          await parkedAre(2);
          await p.swap(
            JSON.stringify({ ...(JSON.parse(p.server.body) as object), revokedAt: new Date().toISOString() }),
            (l) => l.event === 'artifact.revoked',
          );
          const [get, head] = await Promise.all(waiting);
          assertErrorBody(get as HttpAnswer, 503, 'revoked');
          assert.equal(head?.status, 503);
          assert.equal(get?.headers.etag, undefined);
          assertErrorBody(await p.agent.request('/v1/secrets', { headers: { 'if-none-match': tag } }), 503, 'revoked');
          assertErrorBody(await poll('/v1/secrets', tag, 1), 503, 'revoked');
          // A later artifact ends the revocation; waiting works again.
          await p.swap(await p.artifact({ payload: PAYLOAD, revision: 'rev-after-revocation' }), refreshed('rev-after-revocation'));
          assert.equal((await poll('/v1/secrets', await tagOf('/v1/secrets'), 1)).status, 304);
        });
      }

      it('§10.2 SIGTERM while waiting: every waiter is answered (304) and the process exits 0 by itself', async () => {
        const tag = await tagOf('/v1/secrets');
        const waiting = [poll('/v1/secrets', tag, 300), poll('/v1/keys', await tagOf('/v1/keys'), 300)];
        await parkedAre(2);
        const exited = p.agent.stop({ signal: 'SIGTERM', killAfterMs: 20_000 });
        const answers = await Promise.all(waiting);
        assert.deepEqual(
          answers.map((r) => r.status),
          [304, 304],
        );
        assert.equal(answers[0]?.headers.connection, 'close', 'the agent is going away: no keep-alive');
        assert.equal(await exited, 0, 'exited by itself (not killed), code 0');
      });
    });
  }

  describe('§10.2 long polls leave connections for probes (MAX_CONNECTIONS=8, MAX_WAITERS=8)', { timeout: 60_000 }, () => {
    let p: Polled;
    let ops: number;
    before(async () => {
      p = await startPolled({
        payload: PAYLOAD,
        env: { CLEF_AGENT_MAX_CONNECTIONS: '8', CLEF_AGENT_MAX_WAITERS: '8', CLEF_AGENT_OPS_ADDR: '127.0.0.1:0' },
      });
      ops = await opsPort(p.agent);
    });
    after(() => p?.close());

    it('§10.2 7 long polls park, the 8th is 503 overloaded, and /v1/health and /v1/secrets still get 200 (not 429); a warning at start says so', async () => {
      const warning = await p.agent.waitForLog((l) => l.event === 'config.warning' && String(l['msg']).startsWith('CLEF_AGENT_MAX_WAITERS'));
      assert.match(String(warning['msg']), /at most 7 long polls park at once, keeping 1 of the 8 connections/);
      const tag = String((await p.get('/v1/keys')).headers.etag);
      const held = Array.from({ length: 7 }, () => abortable(p.agent.port, '/v1/keys?wait=300', tag, p.agent.token));
      try {
        await waitUntil(async () => (value(await scrape(ops), 'clef_agent_long_poll_waiters') === 7 ? true : undefined), 10_000, '7 parked long polls');
        // Before the fix this one parked too, and took the last connection.
        const eighth = await p.agent.request('/v1/keys?wait=300', { headers: { 'if-none-match': tag }, timeoutMs: 10_000 });
        assertErrorBody(eighth, 503, 'overloaded');
        // Each request is a new connection; the refused one may still be closing on the agent's side
        // (its close is counted a moment later), so a 429 is retried until that has happened.
        const ok = (path: string): Promise<HttpAnswer> =>
          waitUntil(
            async () => {
              const r = await p.agent.request(path);
              return r.status === 429 ? undefined : r;
            },
            5_000,
            `${path} past the connection cap`,
          );
        assert.equal((await ok('/v1/health')).status, 200);
        const secrets = await ok('/v1/secrets');
        assert.equal(secrets.status, 200);
        assert.deepEqual(secrets.json(), PAYLOAD);
        assert.equal(value(await scrape(ops), 'clef_agent_long_poll_waiters'), 7);
      } finally {
        for (const h of held) h.abort();
      }
    });
  });
});

/** A long poll the test can abandon: the client closes its connection while the agent holds the request. */
function abortable(port: number, path: string, tag: string, token: string): { abort(): void } {
  const req = http.request({
    host: '127.0.0.1',
    port,
    path,
    agent: false,
    headers: { host: `127.0.0.1:${port}`, authorization: `Bearer ${token}`, 'if-none-match': tag },
  });
  req.on('error', () => undefined);
  req.on('response', (res) => assert.fail(`a parked request was answered ${res.statusCode ?? 0} before it was abandoned`));
  req.end();
  return { abort: () => req.destroy() };
}
