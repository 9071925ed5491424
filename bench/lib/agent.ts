/**
 * The real agent as a separate process, as shipped: `node --import agent-probe.js
 * dist/bundle/src/main.js` (the production bundle, scripts/build-prod.mjs), configured
 * only through CLEF_AGENT_* variables, on CLEF_AGENT_PORT=0 (the `listening` log line gives the
 * port). Start-to-ready is timed from just before spawn to the `artifact.refreshed` log line,
 * confirmed by `/v1/ready` answering 200.
 */
import type { ChildProcess } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import type { ProbeStats } from '../agent-probe.js';
import { bundleFile, distFile, eachLogLine, get, nextMessage, spawnNode, stopChild } from './proc.js';

export interface BenchAgent {
  readonly port: number;
  /** The agent's process id (its RSS is read from /proc). */
  readonly pid: number;
  /** The operations listener's port, when CLEF_AGENT_OPS_ADDR is set. */
  readonly opsPort?: number | undefined;
  /** The pool size the agent chose (its `agent.starting` log line). */
  readonly workers: number;
  readonly readyMs: number;
  /** Start a new measurement window in the agent's probe. */
  resetProbe(): void;
  readProbe(): Promise<ProbeStats>;
  stop(): Promise<void>;
}

interface LogLine {
  readonly event?: string;
  readonly port?: number;
  readonly workers?: number;
  readonly level?: string;
  readonly msg?: string;
}

const START_TIMEOUT_MS = 30_000;

export async function startBenchAgent(env: Readonly<Record<string, string>>, cpus: string | undefined): Promise<BenchAgent> {
  const probe = pathToFileURL(distFile('bench/agent-probe.js')).href;
  const t0 = performance.now();
  const child = spawnNode(bundleFile('src/main.js'), [], {
    cpus,
    pipe: true,
    nodeArgs: ['--import', probe],
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CLEF_AGENT_PORT: '0', CLEF_AGENT_LOG_LEVEL: 'info', ...env },
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  try {
    const seen = await waitForLogs(child, () => stderr);
    const readyMs = performance.now() - t0;
    const ready = await get(seen.port, '/v1/ready');
    if (ready.status !== 200) throw new Error(`agent logged artifact.refreshed but /v1/ready answered ${ready.status}`);
    return agentHandle(child, seen.port, seen.workers, readyMs, seen.opsPort);
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

/** Reads the agent's JSON log lines until it is listening and the first artifact is loaded. */
function waitForLogs(child: ChildProcess, stderr: () => string): Promise<{ port: number; workers: number; opsPort?: number | undefined }> {
  return new Promise((resolve, reject) => {
    let port: number | undefined;
    let opsPort: number | undefined;
    let workers: number | undefined;
    const fail = (why: string): void => {
      clearTimeout(timer);
      reject(new Error(`agent did not become ready: ${why}\n${stderr()}`));
    };
    const timer = setTimeout(() => fail(`timeout after ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    child.once('exit', (code) => fail(`exited with ${code ?? 'a signal'}`));
    eachLogLine<LogLine>(child, (log) => {
      if (log.event === 'agent.starting') workers = log.workers;
      if (log.event === 'listening') port = log.port;
      if (log.event === 'ops.listening') opsPort = log.port;
      if (log.level === 'error' || log.level === 'fatal') fail(`${log.event ?? ''} ${log.msg ?? ''}`);
      if (log.event === 'artifact.refreshed' && port !== undefined && workers !== undefined) {
        clearTimeout(timer);
        resolve({ port, workers, opsPort });
      }
    });
  });
}

function agentHandle(child: ChildProcess, port: number, workers: number, readyMs: number, opsPort?: number): BenchAgent {
  let nextId = 1;
  // Keep draining stdout so a chatty agent never blocks on a full pipe.
  child.stdout?.resume();
  return {
    port,
    pid: child.pid ?? 0,
    opsPort,
    workers,
    readyMs,
    resetProbe: () => void child.send({ probe: 'reset' }),
    readProbe: () => {
      const id = nextId++;
      child.send({ probe: 'read', id });
      const pick = (m: unknown): ProbeStats | undefined =>
        typeof m === 'object' && m !== null && 'probe' in m && 'id' in m && m.id === id ? (m as ProbeStats) : undefined;
      return nextMessage(child, pick, 5_000, 'agent probe');
    },
    stop: () => stopChild(child),
  };
}
