/**
 * The one agent launcher: starts the built agent (`dist/src/main.js`) as a real child process with
 * a clean environment, collects its JSON log lines, waits for what it logs, talks HTTP to it and
 * stops it — always bounded, so a hung agent never outlives its test.
 *
 * With `CLEF_AGENT_TEST_BINARY=/path/to/clef-agent` (the binary leg, `npm run test:binary`) it
 * starts that standalone binary instead, with the same arguments and environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request, type HttpAnswer, type RequestOptions } from './http.js';
import { waitUntil } from './wait.js';

export const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

/** The standalone binary under test, when this is the binary leg. */
export const BINARY: string | undefined = process.env['CLEF_AGENT_TEST_BINARY'] || undefined;

/** The command and arguments that run the agent: `node [nodeArgs] main.js args`, or `binary args`. */
export function agentCommand(args: readonly string[], nodeArgs: readonly string[] = [], binary = BINARY): [string, string[]] {
  if (binary === undefined) return [process.execPath, [...nodeArgs, MAIN, ...args]];
  // The binary takes no Node flags (its SEA config sets execArgvExtension "none").
  if (nodeArgs.length > 0) throw new Error(`node flags (${nodeArgs.join(' ')}) do not apply to the standalone binary`);
  return [binary, [...args]];
}

export interface LogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly event?: string;
  readonly [k: string]: unknown;
}

export interface LaunchOptions {
  /** Arguments after main.js (e.g. `['loadtest', …]`). */
  readonly args?: readonly string[];
  /** Node flags before main.js (e.g. `--inspect`); refused for the binary. */
  readonly nodeArgs?: readonly string[];
  /** A standalone binary to run (default: `BINARY`, else node and main.js). */
  readonly binary?: string;
  /** The agent's working directory (default: the test runner's). */
  readonly cwd?: string;
  /** Where the JSON log lines are: stdout (the agent), or stderr (`exec`, whose stdout is the command's). */
  readonly logsOn?: 'stdout' | 'stderr';
}

export interface StopOptions {
  /** Default SIGTERM. */
  readonly signal?: NodeJS.Signals;
  /** SIGKILL if it has not exited this long after the signal. Default 10 s. */
  readonly killAfterMs?: number;
}

/** Bounds for start-up: a loaded CI machine can take several seconds to start a node process. */
const START_TIMEOUT_MS = 30_000;

export class AgentProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  /** Set by `listening()` from the agent's `listening` log line (0 without a TCP listener). */
  port = 0;
  readonly token: string;
  private readonly lines: LogLine[] = [];
  private partial = '';
  private hasClosed = false;
  /** The exit code, once the process exited and its stdout/stderr were read to the end. */
  private readonly closed: Promise<number | null>;

  /** `env` is all the agent sees, plus PATH and CLEF_AGENT_PORT=0 (any free port) unless `env` sets it. */
  constructor(env: Readonly<Record<string, string>>, o: LaunchOptions = {}) {
    this.token = env['CLEF_AGENT_TOKEN'] ?? '';
    const [command, argv] = agentCommand(o.args ?? [], o.nodeArgs, o.binary ?? BINARY);
    this.child = spawn(command, argv, {
      ...(o.cwd === undefined ? {} : { cwd: o.cwd }),
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CLEF_AGENT_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const logsOnStderr = o.logsOn === 'stderr';
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      if (!logsOnStderr) this.onLogData(d);
    });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      if (logsOnStderr) this.onLogData(d);
    });
    // 'exit' can come before the last output is read: 'close' is when stdout/stderr are complete.
    this.closed = new Promise((resolve) =>
      this.child.once('close', (code) => {
        this.hasClosed = true;
        resolve(code);
      }),
    );
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  /** Every JSON log line so far, in order (a live array: `logs().length` marks "from now on"). */
  logs(): readonly LogLine[] {
    return this.lines;
  }

  /** The first log line at index ≥ `from` matching `pred`; rejects once the agent exited without one, or after `timeoutMs`. */
  async logAfter(from: number, pred: (l: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    const find = (): LogLine | undefined => this.lines.slice(from).find(pred);
    try {
      return await waitUntil(
        () => {
          const hit = find();
          if (hit === undefined && this.hasClosed)
            throw new Error(`agent exited (${this.child.exitCode ?? this.child.signalCode}) before the expected log line`);
          return hit;
        },
        timeoutMs,
        'the expected log line',
        25,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.output.slice(-4000)}`);
    }
  }

  /** The first log line matching `pred` since the start. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = START_TIMEOUT_MS): Promise<LogLine> {
    return this.logAfter(0, pred, timeoutMs);
  }

  /** Waits for the server to listen; sets `port`. */
  async listening(timeoutMs = START_TIMEOUT_MS): Promise<this> {
    // No port with CLEF_AGENT_PORT=off (the API is on a Unix socket only).
    this.port = ((await this.waitForLog((l) => l.event === 'listening', timeoutMs))['port'] as number | undefined) ?? 0;
    return this;
  }

  /** Waits for listening and the first artifact load (`/v1/ready` answers 200 from then on). */
  async ready(timeoutMs = START_TIMEOUT_MS): Promise<this> {
    if (this.port === 0) await this.listening(timeoutMs);
    await this.waitForLog((l) => l.event === 'artifact.refreshed', timeoutMs);
    return this;
  }

  /**
   * `ready()`, or only `listening()` when `o.waitReady` is false; when that fails (the agent exited
   * or timed out), `o.cleanup` runs before the error is rethrown, so a fixture leaks nothing.
   */
  async started(o: { readonly waitReady?: boolean | undefined; readonly cleanup: () => Promise<void> }): Promise<this> {
    try {
      return o.waitReady === false ? await this.listening() : await this.ready();
    } catch (err) {
      await o.cleanup();
      throw err;
    }
  }

  /** A request to this agent, with its token unless `o.token` says otherwise. */
  request(path: string, o: RequestOptions = {}): Promise<HttpAnswer> {
    return request(this.port, path, { ...o, token: o.token ?? this.token });
  }

  /**
   * Sends `signal` (unless the process is already gone), SIGKILL after `killAfterMs`; resolves
   * with the exit code once all output was read, so `stdout`/`stderr` are complete.
   */
  async stop(o: StopOptions = {}): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(o.signal ?? 'SIGTERM');
    return this.bounded(o.killAfterMs ?? 10_000);
  }

  /** For a process that must exit by itself: its exit code once all output was read; SIGKILL after `timeoutMs`. */
  exited(timeoutMs = 30_000): Promise<number | null> {
    return this.bounded(timeoutMs);
  }

  private async bounded(killAfterMs: number): Promise<number | null> {
    const kill = setTimeout(() => this.child.kill('SIGKILL'), killAfterMs);
    try {
      return await this.closed;
    } finally {
      clearTimeout(kill);
    }
  }

  private onLogData(d: string): void {
    const parts = (this.partial + d).split('\n');
    this.partial = parts.pop() ?? '';
    for (const line of parts) if (line.startsWith('{')) this.lines.push(JSON.parse(line) as LogLine);
  }
}
