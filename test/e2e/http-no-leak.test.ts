/**
 * SPEC §5.1 "Secret values, the token and key material never appear in logs, errors or telemetry,
 * and never on disk except the token file the operator asked for" — against the real agent at the
 * most verbose log level, after every kind of request, and with HOME/TMPDIR/cwd in a directory
 * the test inspects afterwards.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { AgentProcess, tempDir } from '../kit/index.js';
import { ROUTES, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';
import { ageKeyPair, artifactJson, samplePayload } from '../helpers/artifacts.js';

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out.sort();
}

describe('§5.1 secrets, token and key material never appear in logs (CLEF_AGENT_LOG_LEVEL=trace)', { timeout: 60_000 }, () => {
  it('§5.1 no secret value, token or age key in stdout/stderr after every kind of request', async () => {
    const payload = samplePayload('LOGLEAK');
    const fa = await startFileAgent({ payload, env: { CLEF_AGENT_LOG_LEVEL: 'trace' } });
    let output = '';
    const nearToken = `${TOKEN.slice(0, -4)}beef`;
    try {
      const paths = [...ROUTES, '/v1/secrets/API_KEY', '/v1/secrets/DATABASE_URL', '/v1/secrets/app/API_KEY', '/v1/secrets/nope', '/nope'];
      for (const path of paths) {
        await fa.agent.request(path);
        await fa.agent.request(path, { headers: { accept: 'text/plain' } });
        await fa.agent.request(path, { method: 'HEAD' });
        await fa.agent.request(path, { token: nearToken });
        await fa.agent.request(path, { method: 'POST' });
        await fa.agent.request(path, { headers: { host: 'evil.com' } });
        await fa.agent.request(path, { headers: { 'x-forwarded-for': '1.2.3.4' } });
      }
      fa.agent.child.kill('SIGUSR1');
      await fa.agent.waitForLog((l) => l.event === 'inspector.refused');
      assert.equal(await fa.agent.stop({ signal: 'SIGTERM' }), 0);
      output = fa.agent.output;
      assert.ok(fa.agent.logs().length >= 4, 'the agent did log');
      assert.ok(
        fa.agent.logs().some((l) => l.level === 'debug' || l.level === 'trace' || l.level === 'info'),
        'logging at a verbose level',
      );
      const forbidden = new Map<string, string>([
        ['token', TOKEN],
        ['token prefix', TOKEN.slice(0, 16)],
        ['presented wrong token', nearToken],
        ['age identity', fa.key.identity],
        ['age identity body', fa.key.identity.slice(16, 40)],
      ]);
      for (const [ns, keys] of Object.entries(payload)) for (const [k, v] of Object.entries(keys)) forbidden.set(`${ns}/${k}`, v);
      forbidden.set('secret marker', 'LOGLEAK-');
      for (const [what, value] of forbidden) assert.ok(!output.includes(value), `${what} appears in the logs`);
      // Plaintext never touches disk: the artifact directory holds only the artifact.
      assert.deepEqual(readdirSync(fa.dir), ['artifact.json']);
    } finally {
      await fa.close();
    }
  });
});

describe('§5.1 nothing secret on disk except the token file', { timeout: 60_000 }, () => {
  it('§5.1 never on disk except the token file: HOME, TMPDIR and cwd stay empty; the generated token file is 0600', async (t) => {
    const root = tempDir(t);
    const payload = samplePayload('DISKLEAK');
    let agent: AgentProcess | undefined;
    try {
      for (const d of ['home', 'tmp', 'cwd', 'run']) mkdirSync(join(root, d));
      const key = await ageKeyPair();
      const artifactPath = join(root, 'artifact.json');
      writeFileSync(artifactPath, await artifactJson({ recipient: key.recipient, payload }));
      const tokenFile = join(root, 'run', 'token');
      agent = new AgentProcess(
        {
          CLEF_AGENT_SOURCE: artifactPath,
          CLEF_AGENT_AGE_KEY: key.identity,
          CLEF_AGENT_TOKEN_FILE: tokenFile,
          CLEF_AGENT_WORKERS: '1',
          CLEF_AGENT_LOG_LEVEL: 'trace',
          HOME: join(root, 'home'),
          TMPDIR: join(root, 'tmp'),
        },
        { cwd: join(root, 'cwd') },
      );
      await agent.ready();
      const token = readFileSync(tokenFile, 'utf8').trim();
      assert.ok(token.length >= 32, 'a generated token was written');
      assert.equal(statSync(tokenFile).mode & 0o777, 0o600, 'token file mode 0600');
      for (const path of ROUTES) assert.equal((await agent.request(path, { token })).status, 200, path);
      assert.equal((await agent.request('/v1/secrets/app__API_KEY', { token, headers: { accept: 'text/plain' } })).status, 200);
      assert.equal(await agent.stop(), 0);

      const files = filesUnder(root).map((f) => relative(root, f));
      assert.deepEqual(files, ['artifact.json', 'run/token'], 'no other file was written');
      assert.ok(!agent.output.includes(token), 'the generated token is not logged');
      const values = Object.values(payload).flatMap((ns) => Object.values(ns));
      for (const f of filesUnder(root)) {
        const text = readFileSync(f, 'utf8');
        for (const v of values) assert.ok(!text.includes(v), `${relative(root, f)} holds a plaintext secret`);
      }
    } finally {
      if (agent) await agent.stop();
    }
  });
});
