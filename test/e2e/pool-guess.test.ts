/**
 * The pool started from a guess before the configuration is read (src/cli/early-start.ts,
 * src/pool-guess.ts), on real agent processes: when the validated options start the same workers
 * the guessed pool keeps them (no worker started twice); when they differ (a count written as
 * `02`, which the guess does not read) the agent replaces them and serves with the validated count.
 * A preloaded probe records each worker the process starts.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { defaultWorkerCount } from '../../src/config/cpus.js';
import { TempDirs } from '../kit/index.js';
import { opsPort, scrape, value } from '../helpers/ops.js';
import { agentEnv } from '../helpers/scenario.js';
import { probedAgent, servedArtifact } from '../helpers/worker-probe.js';

const dirs = new TempDirs('clef-pool-guess-');
after(() => dirs.removeAll());

describe('a pool started from a guess', { timeout: 60_000 }, () => {
  for (const [what, workers, started] of [
    ['the validated options match: the started workers are kept', '2', 2],
    ['they differ: the workers are replaced, and the validated count serves', '02', defaultWorkerCount() + 2],
  ] as const) {
    it(what, async (t) => {
      const { key, server } = await servedArtifact(t, { app: { K: 'guess' } });
      const env = agentEnv(key.identity, {
        CLEF_AGENT_SOURCE: server.url(),
        CLEF_AGENT_CACHE_TTL: '0',
        CLEF_AGENT_WORKERS: workers,
        CLEF_AGENT_OPS_ADDR: '127.0.0.1:0',
      });
      const { agent, workerEnvs } = probedAgent(env, dirs.make());
      t.after(() => agent.stop());
      await agent.ready();
      const answers = await Promise.all(Array.from({ length: 8 }, () => agent.request('/v1/secrets')));
      assert.deepEqual(
        answers.map((a) => a.status),
        Array(8).fill(200),
      );
      assert.deepEqual(JSON.parse(answers[0]?.body ?? '{}'), { app: { K: 'guess' } });
      assert.equal(workerEnvs().length, started, 'workers started by the process');
      assert.equal(value(await scrape(await opsPort(agent)), 'clef_agent_pool_workers'), 2, 'the pool runs the validated count');
    });
  }
});
