/**
 * Fixtures for the exec suites: a real `clef-agent exec` process (logs on stderr, the command's
 * output on stdout) on a real local artifact server, polling every 5 s.
 */
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { AgentProcess, waitUntil, type LogLine } from '../kit/index.js';
import { ageKeyPair, artifactJson, type AgeKeyPair, type BuildOptions } from './artifacts.js';
import { newToken, POLLING_ENV } from './scenario.js';

export interface Exec {
  readonly proc: AgentProcess;
  readonly server: ArtifactServer;
  readonly key: AgeKeyPair;
  readonly token: string;
  /** Publish a new artifact for this key. */
  publish(o: Omit<BuildOptions, 'recipient'>): Promise<void>;
  /** Wait until the command's output (stdout) contains `text` at least `times` times. */
  output(text: string, times?: number, timeoutMs?: number): Promise<void>;
  logAfter(from: number, pred: (l: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  mark(): number;
  close(): Promise<void>;
}

export interface ExecOptions {
  readonly payload?: unknown;
  /** exec's flags and `--` and the command. */
  readonly args: readonly string[];
  /** More environment for the exec process (after the agent's variables). */
  readonly env?: Readonly<Record<string, string>>;
  /** Replace the source (e.g. a missing file). */
  readonly source?: string;
}

export async function startExec(o: ExecOptions): Promise<Exec> {
  const key = await ageKeyPair();
  const server = await new ArtifactServer().start();
  server.body = await artifactJson({
    recipient: key.recipient,
    payload: o.payload ?? { app: { API_KEY: 'first-value' } },
    packedAt: new Date(Date.now() - 60_000).toISOString(),
  });
  const token = newToken();
  const proc = new AgentProcess(
    {
      CLEF_AGENT_AGE_KEY: key.identity,
      CLEF_AGENT_TOKEN: token,
      CLEF_AGENT_WORKERS: '1',
      CLEF_AGENT_SOURCE: o.source ?? server.url(),
      CLEF_AGENT_LOG_LEVEL: 'debug',
      ...POLLING_ENV,
      ...o.env,
    },
    { args: ['exec', ...o.args], logsOn: 'stderr' },
  );
  const count = (text: string): number => proc.stdout.split(text).length - 1;
  return {
    proc,
    server,
    key,
    token,
    publish: async (b) => {
      server.body = await artifactJson({ ...b, recipient: key.recipient });
    },
    output: async (text, times = 1, timeoutMs = 30_000) => {
      try {
        await waitUntil(
          () => {
            if (count(text) >= times) return true;
            if (proc.child.exitCode !== null || proc.child.signalCode !== null) throw new Error('exec exited');
            return undefined;
          },
          timeoutMs,
          `the command's output ${JSON.stringify(text)}`,
          25,
        );
      } catch (err) {
        throw new Error(`${(err as Error).message}\nstdout: ${proc.stdout.slice(-2000)}\nstderr: ${proc.stderr.slice(-4000)}`);
      }
    },
    logAfter: (from, pred, timeoutMs) => proc.logAfter(from, pred, timeoutMs),
    mark: () => proc.logs().length,
    close: async () => {
      await proc.stop({ killAfterMs: 5000 });
      await server.close();
    },
  };
}

/** A POSIX sh script that prints `ready`, answers each trapped signal with a line, and loops in short sleeps (so traps run promptly). */
export function trappingScript(traps: Readonly<Record<string, string>>, before = ''): string {
  const t = Object.entries(traps)
    .map(([sig, action]) => `trap '${action}' ${sig}`)
    .join('; ');
  return `${t}; ${before} echo ready; while :; do sleep 0.05; done`;
}
