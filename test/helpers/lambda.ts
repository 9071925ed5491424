/**
 * Fixtures for the Lambda extension suites: an artifact server, the Extensions API emulator and
 * the agent started against both (AWS_LAMBDA_RUNTIME_API set), stopped and closed after the test.
 */
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { LambdaExtensionsApi } from '../../emulators/lambda-extensions.js';
import { AgentProcess, type LaunchOptions } from '../kit/index.js';
import { ageKeyPair, artifactJson, type AgeKeyPair } from './artifacts.js';
import { agentEnv } from './scenario.js';

export interface LambdaFixture {
  readonly agent: AgentProcess;
  readonly api: LambdaExtensionsApi;
  readonly server: ArtifactServer;
  readonly key: AgeKeyPair;
  /** Epoch ms of the agent's 'exit', once it exited. */
  readonly exitAt: Promise<number>;
  artifact(payload: unknown): Promise<string>;
}

export interface LambdaOptions {
  readonly payload?: unknown;
  readonly env?: Record<string, string>;
  readonly launch?: LaunchOptions;
  /** Replace the agent's whole environment (after the source and runtime API are known). */
  readonly fullEnv?: (base: Record<string, string>) => Record<string, string>;
  readonly setup?: (server: ArtifactServer) => void;
}

export async function startExtension(t: { after(fn: () => unknown): void }, o: LambdaOptions = {}): Promise<LambdaFixture> {
  const key = await ageKeyPair();
  const server = await new ArtifactServer().start();
  const api = await new LambdaExtensionsApi().start();
  server.body = await artifactJson({ recipient: key.recipient, payload: o.payload ?? { app: { API_KEY: 'first-value' } } });
  o.setup?.(server);
  const base = agentEnv(key.identity, {
    CLEF_AGENT_SOURCE: server.url(),
    AWS_LAMBDA_RUNTIME_API: api.runtimeApi,
    CLEF_AGENT_LAMBDA_EXTENSION_NAME: 'clef-agent',
    CLEF_AGENT_LOG_LEVEL: 'debug',
    ...o.env,
  });
  const agent = new AgentProcess(o.fullEnv ? o.fullEnv(base) : base, o.launch);
  const exitAt = new Promise<number>((resolve) => agent.child.once('exit', () => resolve(Date.now())));
  t.after(async () => {
    await api.close();
    await agent.stop({ signal: 'SIGKILL' });
    await server.close();
  });
  return { agent, api, server, key, exitAt, artifact: (payload) => artifactJson({ recipient: key.recipient, payload }) };
}
