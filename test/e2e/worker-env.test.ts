/**
 * SECURITY.md, "the environment": the raw secrets (CLEF_AGENT_AGE_KEY, CLEF_AGENT_TOKEN) leave
 * process.env before any worker starts, so no worker thread's environment holds them. Where workers
 * start before the configuration is read (JIT mode and Lambda: src/cli/early-start.ts starts the
 * pool from a guess), this is what removing them first guarantees; in cached mode the first worker
 * starts later. Real agent processes; a preloaded probe records each worker's environment.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TempDirs } from '../kit/index.js';
import { ageKeyPair } from '../helpers/artifacts.js';
import { agentEnv } from '../helpers/scenario.js';
import { probedAgent, servedArtifact } from '../helpers/worker-probe.js';

const dirs = new TempDirs('clef-worker-env-');
after(() => dirs.removeAll());

describe('no worker starts with the raw secrets in its environment', { timeout: 60_000 }, () => {
  for (const [mode, extra] of [
    ['JIT mode (the pool starts before the configuration is read)', { CLEF_AGENT_CACHE_TTL: '0' }],
    ['cached mode', {}],
  ] as const) {
    it(mode, async (t) => {
      const { key, server } = await servedArtifact(t, { app: { K: 'worker-env' } });
      const env = agentEnv(key.identity, { CLEF_AGENT_SOURCE: server.url(), ...extra });
      const { agent, workerEnvs } = probedAgent(env, dirs.make());
      t.after(() => agent.stop());
      await agent.ready();
      assert.equal((await agent.request('/v1/secrets')).status, 200);
      const envs = workerEnvs();
      assert.ok(envs.length >= 1, 'the probe saw the workers start');
      for (const w of envs) {
        assert.equal(w['CLEF_AGENT_AGE_KEY'], undefined);
        assert.equal(w['CLEF_AGENT_TOKEN'], undefined);
        const values = Object.values(w).join('\n');
        assert.ok(!values.includes(key.identity), 'no age key in a worker environment');
        assert.ok(!values.includes(env['CLEF_AGENT_TOKEN'] ?? '(none)'), 'no token in a worker environment');
        assert.equal(w['CLEF_AGENT_SOURCE'], server.url(), 'the rest of the environment is there (proxy and AWS variables are read in the workers)');
      }
    });
  }

  it('a configuration refused after the pool started early: exit 2 with the reason, the started worker does not keep the process alive', async () => {
    const key = await ageKeyPair();
    const env = agentEnv(key.identity, { CLEF_AGENT_SOURCE: 'https://artifacts.example.com/a.json', CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_MAX_QUEUE: 'lots' });
    const { agent, workerEnvs } = probedAgent(env, dirs.make());
    assert.equal(await agent.exited(), 2);
    assert.match(agent.stderr, /invalid configuration:\n.*CLEF_AGENT_MAX_QUEUE/);
    assert.equal(workerEnvs().length, 1, 'the guessed pool had started its worker');
    assert.ok(!agent.output.includes(key.identity));
  });
});
