/**
 * Agent processes started with worker-env-probe.ts preloaded, which records the environment of
 * every worker thread the process starts; and a served age artifact to start them on.
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { AgentProcess } from '../kit/index.js';
import { ageKeyPair, artifactJson, type AgeKeyPair } from './artifacts.js';

const PROBE = fileURLToPath(new URL('./worker-env-probe.js', import.meta.url));

export interface ProbedAgent {
  readonly agent: AgentProcess;
  /** The environments the process's workers started with so far, in order. */
  readonly workerEnvs: () => Record<string, string>[];
}

/** An agent on `env` with the probe preloaded, recording into a file in `dir`. */
export function probedAgent(env: Readonly<Record<string, string>>, dir: string): ProbedAgent {
  const file = join(dir, 'workers.jsonl');
  writeFileSync(file, '');
  const agent = new AgentProcess({ ...env, NODE_OPTIONS: `--import=${PROBE}`, CLEF_TEST_WORKER_ENV: file });
  const workerEnvs = (): Record<string, string>[] =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => (JSON.parse(l) as { env: Record<string, string> | 'shared' }).env)
      .map((e) => {
        assert.notEqual(e, 'shared', 'workers never share the live process.env');
        return e as Record<string, string>;
      });
  return { agent, workerEnvs };
}

/** A local artifact server answering an age artifact of `payload` (closed when `t` ends), and its key. */
export async function servedArtifact(
  t: { after(fn: () => unknown): void },
  payload: Record<string, Record<string, string>>,
): Promise<{ key: AgeKeyPair; server: ArtifactServer }> {
  const key = await ageKeyPair();
  const server = await new ArtifactServer().start();
  t.after(() => server.close());
  server.body = await artifactJson({ recipient: key.recipient, payload });
  return { key, server };
}
