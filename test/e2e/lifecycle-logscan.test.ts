/**
 * SPEC §5.1: secret values, the token and key material never appear in logs or errors. One full
 * scenario with errors at CLEF_AGENT_LOG_LEVEL=trace — bad and missing tokens, lookups, rejected
 * artifacts (tampered, wrong key, invalid payload), a revocation and a stop — then every byte the
 * process wrote to stdout and stderr is scanned.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { AgentProcess } from '../kit/index.js';
import { invalid, isEvent, newToken } from '../helpers/scenario.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';

const SECRETS = {
  app: { DATABASE_URL: 'postgres://app:Scan-Db-Pass-1f2e@db/app', API_KEY: 'Scan-Api-Key-9a8b7c' },
  payments: { STRIPE_KEY: 'sk_live_Scan-Stripe-5d4c', API_KEY: 'Scan-Pay-Key-3b2a' },
};
const REJECTED_VALUES = ['Rejected-Tamper-77aa', 'Rejected-WrongKey-66bb', 'Rejected-Payload-55cc'];
const GUESSED_TOKEN = 'Guessed-Token-0123456789abcdef0123456789abcdef';
const SOURCE_PASS = 'Src-Basic-Pass-4e4e';

describe('§5.1 log scan', () => {
  it(
    '§5.1: a full scenario with errors at trace level writes no secret value, token, source password or age key to stdout/stderr',
    { timeout: 90_000 },
    async (t) => {
      const key = await ageKeyPair();
      const stranger = await ageKeyPair();
      const token = newToken();
      const server = await new ArtifactServer().start();
      t.after(() => server.close());
      server.body = await artifactJson({ recipient: key.recipient, payload: SECRETS, revision: 'rev-scan' });
      const agent = new AgentProcess({
        CLEF_AGENT_SOURCE: `http://scan-user:${SOURCE_PASS}@127.0.0.1:${server.port}/artifact.json`,
        CLEF_AGENT_AGE_KEY: key.identity,
        CLEF_AGENT_TOKEN: token,
        CLEF_AGENT_WORKERS: '1',
        CLEF_AGENT_CACHE_TTL: '30',
        CLEF_AGENT_POLL_INTERVAL: '5',
        CLEF_AGENT_LOG_LEVEL: 'trace',
      });
      t.after(() => agent.stop());
      await agent.ready();

      // Clients: good, bad, missing and oddly-cased tokens; every route and answer form.
      const paths = [
        '/v1/secrets',
        '/v1/keys',
        '/v1/secrets/app__API_KEY',
        '/v1/secrets/API_KEY',
        '/v1/secrets/payments/STRIPE_KEY',
        '/v1/secrets/NOPE',
        '/v1/health',
        '/v1/ready',
      ];
      for (const path of paths) {
        assert.notEqual((await agent.request(path)).status, 500);
        await agent.request(path, { headers: { accept: 'text/plain' } });
        await agent.request(path, { method: 'HEAD' });
        await agent.request(path, { token: GUESSED_TOKEN });
        await agent.request(path, { headers: { authorization: `bearer ${GUESSED_TOKEN}` } });
        await agent.request(path, { headers: { authorization: `Basic ${Buffer.from(`x:${token}`).toString('base64')}` }, token: '' });
        await agent.request(path, { headers: { authorization: `Bearer ${token.slice(0, 32)}` } });
        await agent.request(path, { method: 'DELETE' });
        await agent.request(path, { headers: { host: 'evil.example', 'x-forwarded-for': '10.0.0.1' } });
      }
      assert.equal((await agent.request('/v1/secrets', { token: GUESSED_TOKEN })).status, 401);
      assert.equal((await agent.request('/v1/secrets/API_KEY')).status, 409);
      // An unchanged poll logs at debug: proof the verbose levels are really on.
      await agent.logAfter(0, isEvent('artifact.unchanged'), 20_000);

      // Rejected artifacts whose secrets must never surface: tampered, wrong key, invalid payload.
      const swap = async (body: string, code: string): Promise<void> => {
        const from = agent.logs().length;
        server.body = body;
        await agent.logAfter(from, invalid(code), 20_000);
      };
      const tampered = await artifactJson({ recipient: key.recipient, payload: { app: { API_KEY: REJECTED_VALUES[0] } } });
      await swap(JSON.stringify({ ...(JSON.parse(tampered) as object), ciphertextHash: 'f'.repeat(64) }), 'integrity');
      await swap(await artifactJson({ recipient: stranger.recipient, payload: { app: { API_KEY: REJECTED_VALUES[1] } } }), 'decrypt_failed');
      await swap(await artifactJson({ recipient: key.recipient, payload: { app: { API_KEY: REJECTED_VALUES[2], PORT: 5432 } } }), 'invalid_payload');

      // Revocation, then requests against the revoked agent, then a stop.
      const from = agent.logs().length;
      server.body = JSON.stringify({
        ...(JSON.parse(await artifactJson({ recipient: key.recipient, payload: SECRETS })) as object),
        revokedAt: new Date().toISOString(),
      });
      await agent.logAfter(from, isEvent('artifact.revoked'), 20_000);
      for (const path of paths) await agent.request(path);
      assert.equal(await agent.stop(), 0);

      const out = agent.stdout + agent.stderr;
      assert.ok(out.length > 0);
      // The scenario really went through the error paths it claims to.
      const events = new Set(agent.logs().map((l) => l.event));
      for (const e of ['listening', 'artifact.refreshed', 'artifact.invalid', 'artifact.revoked', 'agent.stopped']) assert.ok(events.has(e), `logged ${e}`);

      const forbidden: Record<string, string> = {
        token,
        'token (first half)': token.slice(0, 32),
        'guessed token': GUESSED_TOKEN,
        'age identity': key.identity,
        'age identity prefix': 'AGE-SECRET-KEY',
        'source password': SOURCE_PASS,
      };
      for (const [ns, keys] of Object.entries(SECRETS)) for (const [k, v] of Object.entries(keys)) forbidden[`${ns}/${k}`] = v;
      REJECTED_VALUES.forEach((v, i) => (forbidden[`rejected value ${i}`] = v));
      for (const [what, needle] of Object.entries(forbidden)) {
        assert.ok(!out.includes(needle), `${what} appears in the agent's output`);
        assert.ok(!out.toLowerCase().includes(needle.toLowerCase()), `${what} appears (case-insensitively) in the agent's output`);
      }
      // Base64 forms of the token (e.g. a logged Basic header) too.
      assert.ok(!out.includes(Buffer.from(`x:${token}`).toString('base64')));
      assert.ok(!out.includes(Buffer.from(`scan-user:${SOURCE_PASS}`).toString('base64')));
    },
  );
});
