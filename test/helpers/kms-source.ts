/**
 * The KMS e2e suites' common setup: the local KMS server with one key, and an artifact server
 * publishing an envelope artifact made with that key; plus the environment of an agent that reads
 * that source and reaches that KMS with the test credentials.
 */
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { KmsServer } from '../../emulators/kms-server.js';
import { AgentProcess } from '../kit/index.js';
import { newToken } from './scenario.js';

export interface KmsSource {
  readonly kms: KmsServer;
  readonly source: ArtifactServer;
  /** The key the first artifact was made with. */
  readonly keyId: string;
  /** KMS Decrypt calls so far (any outcome). */
  decrypts(): number;
  /** An agent on this source (`kmsAgentEnv(this, extra)`), once it has loaded; `close()` stops it. */
  startAgent(extra?: Readonly<Record<string, string>>): Promise<AgentProcess>;
  /** Stops the agents started here, then the servers. */
  close(): Promise<void>;
}

/** `first` builds the artifact JSON published before any agent starts (KMS Encrypt with `keyId`). */
export async function startKmsSource(
  first: (kms: KmsServer, keyId: string) => Promise<string>,
  options?: ConstructorParameters<typeof KmsServer>[0],
): Promise<KmsSource> {
  const kms = await new KmsServer(options).start();
  const source = await new ArtifactServer().start().catch(async (err: unknown) => {
    await kms.close();
    throw err;
  });
  const keyId = kms.createKey();
  const agents: AgentProcess[] = [];
  const close = async (): Promise<void> => {
    await Promise.all(agents.map((a) => a.stop()));
    await Promise.all([source.close(), kms.close()]);
  };
  try {
    source.body = await first(kms, keyId);
  } catch (err) {
    await close();
    throw err;
  }
  const s: KmsSource = {
    kms,
    source,
    keyId,
    decrypts: () => kms.calls.filter((c) => c.op === 'Decrypt').length,
    startAgent: async (extra = {}) => {
      const agent = new AgentProcess(kmsAgentEnv(s, extra));
      agents.push(agent);
      return agent.ready();
    },
    close,
  };
  return s;
}

/** An agent on `s`: its KMS endpoint and credentials, a fresh token, one worker; `extra` last. */
export function kmsAgentEnv(s: KmsSource, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
  return {
    ...s.kms.env(),
    CLEF_AGENT_SOURCE: s.source.url(),
    CLEF_AGENT_TOKEN: newToken(),
    CLEF_AGENT_WORKERS: '1',
    ...extra,
  };
}
