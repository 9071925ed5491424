/**
 * Fixtures for the suites that talk to an agent serving a file artifact (test/e2e/http-*.test.ts,
 * the JIT process suites): the artifact written to a fresh temp dir, the built agent started on it.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentProcess, TempDirs } from '../kit/index.js';
import { ageKeyPair, artifactJson, type AgeKeyPair, type BuildOptions } from './artifacts.js';

/** A 64-hex-character token, like the generated ones. */
export const TOKEN = 'c1ef'.repeat(16);

export const ROUTES = ['/v1/health', '/v1/ready', '/v1/secrets', '/v1/keys', '/v1/secrets/app__API_KEY'] as const;
export const SECRET_ROUTES = ['/v1/secrets', '/v1/keys', '/v1/secrets/app__API_KEY'] as const;

export interface FileAgent {
  readonly agent: AgentProcess;
  readonly key: AgeKeyPair;
  readonly dir: string;
  readonly artifactPath: string;
  /** Stop the agent (SIGTERM, then SIGKILL if it hangs) and remove the temp dir. */
  close(): Promise<void>;
}

export interface FileAgentOptions {
  /** The payload object, or its JSON text (use text for keys such as `__proto__`). */
  readonly payload: unknown;
  /** Added to (and overriding) the defaults: the artifact, its key, TOKEN, one worker. */
  readonly env?: Record<string, string>;
  /** Extra artifact fields (revision, packedAt, …). */
  readonly artifact?: Omit<BuildOptions, 'recipient' | 'payload'>;
  /** Wait for the first load (default true); otherwise wait only for `listening`. */
  readonly waitReady?: boolean;
}

/** Start the built agent on a file artifact holding `payload`, token TOKEN, one worker. */
export async function startFileAgent(o: FileAgentOptions): Promise<FileAgent> {
  const key = await ageKeyPair();
  const dirs = new TempDirs('clef-file-agent-');
  const dir = dirs.make();
  const artifactPath = join(dir, 'artifact.json');
  writeFileSync(artifactPath, await artifactJson({ ...o.artifact, recipient: key.recipient, payload: o.payload }));
  const agent = new AgentProcess({
    CLEF_AGENT_SOURCE: artifactPath,
    CLEF_AGENT_AGE_KEY: key.identity,
    CLEF_AGENT_TOKEN: TOKEN,
    CLEF_AGENT_WORKERS: '1',
    ...o.env,
  });
  const close = async (): Promise<void> => {
    await agent.stop();
    dirs.removeAll();
  };
  await agent.started({ waitReady: o.waitReady, cleanup: close });
  return { agent, key, dir, artifactPath, close };
}
