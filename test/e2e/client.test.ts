/**
 * `clef-agent/client` against a real agent process listening on TCP and on a Unix socket:
 * get/getAll/keys over both, defaults from the agent's own variables, a token file, typed errors
 * carrying the API's `reason` (404, 409 with candidates, 401) without the token in any message,
 * and the client's own refusals (non-loopback URL, no token, nothing listening).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClefAgentError, createClient, type ClefAgentClient } from '../../client/index.js';
import { samplePayload } from '../helpers/artifacts.js';
import { TOKEN, startFileAgent, type FileAgent } from '../helpers/http-fixtures.js';
import { closedPort, suiteTempDirs } from '../kit/index.js';

const PAYLOAD = samplePayload('CLIENT');
const KEYS = ['app__API_KEY', 'app__DATABASE_URL', 'payments__API_KEY', 'payments__STRIPE_KEY'];

/** The ClefAgentError `p` rejects with. */
async function rejection(p: Promise<unknown>): Promise<ClefAgentError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ClefAgentError, `a ClefAgentError, got ${String(err)}`);
    assert.equal(err.code, 'CLEF_AGENT_ERROR');
    return err;
  }
  assert.fail('expected a rejection');
}

describe('clef-agent/client against a real agent (TCP and Unix socket)', { timeout: 60_000 }, () => {
  const dirs = suiteTempDirs('clef-client-');
  let fa: FileAgent;
  let sock: string;
  let tokenFile: string;
  before(async () => {
    const dir = dirs.make();
    sock = join(dir, 'agent.sock');
    tokenFile = join(dir, 'token');
    writeFileSync(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    fa = await startFileAgent({ payload: PAYLOAD, env: { CLEF_AGENT_SOCKET: sock } });
  });
  after(async () => {
    await fa?.close();
  });

  const clients = (): [string, ClefAgentClient][] => [
    ['tcp url + token', createClient({ url: `http://127.0.0.1:${fa.agent.port}`, token: TOKEN, env: {} })],
    ['socketPath + tokenFile', createClient({ socketPath: sock, tokenFile, env: {} })],
    ['defaults: CLEF_AGENT_SOCKET + CLEF_AGENT_TOKEN', createClient({ env: { CLEF_AGENT_SOCKET: sock, CLEF_AGENT_TOKEN: TOKEN } })],
    ['defaults: CLEF_AGENT_PORT + CLEF_AGENT_TOKEN_FILE', createClient({ env: { CLEF_AGENT_PORT: String(fa.agent.port), CLEF_AGENT_TOKEN_FILE: tokenFile } })],
  ];

  it('get, getAll and keys over TCP and the socket, configured by options or by the agent variables', async () => {
    for (const [name, c] of clients()) {
      assert.deepEqual(await c.getAll(), PAYLOAD, name);
      assert.deepEqual(await c.keys(), KEYS, name);
      assert.equal(await c.get('app__DATABASE_URL'), PAYLOAD['app']?.['DATABASE_URL'], name);
      assert.equal(await c.get('payments/STRIPE_KEY'), PAYLOAD['payments']?.['STRIPE_KEY'], name);
      assert.equal(await c.get('STRIPE_KEY'), PAYLOAD['payments']?.['STRIPE_KEY'], name);
    }
    assert.equal(createClient({ socketPath: sock, token: TOKEN }).endpoint, `unix:${sock}`);
    assert.equal(createClient({ env: { CLEF_AGENT_TOKEN: TOKEN } }).endpoint, '127.0.0.1:7779');
  });

  it('errors carry the status and the API reason: 404 not_found, 409 ambiguous_key (with candidates), 401 unauthorized', async () => {
    const c = createClient({ socketPath: sock, token: TOKEN });
    const missing = await rejection(c.get('app__NOPE'));
    assert.equal(missing.status, 404);
    assert.equal(missing.reason, 'not_found');
    const ambiguous = await rejection(c.get('API_KEY'));
    assert.equal(ambiguous.status, 409);
    assert.equal(ambiguous.reason, 'ambiguous_key');
    assert.deepEqual(ambiguous.candidates, ['app__API_KEY', 'payments__API_KEY']);
    const wrong = 'e'.repeat(64);
    for (const bad of [createClient({ socketPath: sock, token: wrong }), createClient({ url: `http://localhost:${fa.agent.port}`, token: wrong })]) {
      const denied = await rejection(bad.getAll());
      assert.equal(denied.status, 401);
      assert.equal(denied.reason, 'unauthorized');
      assert.ok(!denied.message.includes(wrong) && !String(denied.stack).includes(wrong), 'the token is not in the error');
    }
  });

  it("the client's own errors: nothing listening (unreachable), no token, non-loopback or non-http URLs", async () => {
    const down = await rejection(createClient({ url: `http://127.0.0.1:${await closedPort()}`, token: TOKEN }).keys());
    assert.equal(down.status, 0);
    assert.equal(down.reason, 'unreachable');
    const noSocket = await rejection(createClient({ socketPath: join(sock, '..', 'absent.sock'), token: TOKEN }).keys());
    assert.equal(noSocket.reason, 'unreachable');
    const noToken = await rejection(createClient({ socketPath: sock, env: {} }).keys());
    assert.equal(noToken.reason, 'no_token');
    const noFile = await rejection(createClient({ socketPath: sock, tokenFile: join(sock, '..', 'absent-token') }).keys());
    assert.equal(noFile.reason, 'no_token');
    assert.throws(() => createClient({ url: 'http://10.0.0.5:7779', token: TOKEN }), /is not a loopback address; the token would leave this machine/);
    assert.throws(() => createClient({ url: 'http://agent.example.com:7779', token: TOKEN }), /not a loopback address/);
    assert.throws(() => createClient({ url: 'https://127.0.0.1:7779', token: TOKEN }), /must be http:\/\//);
    assert.throws(() => createClient({ url: 'http://u:p@127.0.0.1:7779', token: TOKEN }), /must not carry credentials/);
    assert.throws(() => createClient({ url: 'http://127.0.0.1:1', socketPath: sock, token: TOKEN }), /url or socketPath, not both/);
    assert.throws(() => createClient({ env: { CLEF_AGENT_PORT: 'off', CLEF_AGENT_TOKEN: TOKEN } }), /CLEF_AGENT_PORT is off and CLEF_AGENT_SOCKET is not set/);
    // With allowRemote the URL is accepted (the request itself is not made here).
    assert.equal(createClient({ url: 'http://10.0.0.5:7779', token: TOKEN, allowRemote: true }).endpoint, '10.0.0.5:7779');
  });
});
