/**
 * Exec mode's child process: start it (no shell, `PATH` lookup like execvp, stdio inherited), send
 * it signals, stop it (a signal, a grace period, then SIGKILL) and report how it ended. One child at
 * a time; when to start, stop or signal it is decided by the exec command (command.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { signalExitStatus } from '../lifecycle/start-signals.js';

/** How the child ended, and the status a shell would report: the code, or 128+n for signal n. */
export interface ChildExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly status: number;
}

/** The command could not be started at all (not found, not executable). */
export class SpawnError extends Error {
  /** 127 not found, 126 found but not executable: what shells answer. */
  readonly status: number;
  readonly code: string;
  constructor(command: string, code: string) {
    const status = code === 'ENOENT' ? 127 : 126;
    super(`cannot start ${JSON.stringify(command.slice(0, 200))}: ${code === 'ENOENT' ? 'command not found (ENOENT)' : code}`);
    this.name = 'SpawnError';
    this.status = status;
    this.code = code;
  }
}

export function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  return signal === null ? 128 : signalExitStatus(signal);
}

export class ChildSupervisor {
  private child: ChildProcess | undefined;
  private ended: Promise<ChildExit> | undefined;

  constructor(
    private readonly command: string,
    private readonly args: readonly string[],
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  running(): boolean {
    return this.child !== undefined;
  }

  /**
   * Start the child with exactly `env`. Resolves once it runs, with the promise of its end (wrapped:
   * a promise resolved with a promise would wait for it); rejects with a SpawnError when it cannot
   * start. The caller drops `env` afterwards: the child has its copy.
   */
  start(env: Readonly<Record<string, string>>): Promise<{ readonly ended: Promise<ChildExit> }> {
    if (this.child !== undefined) throw new Error('a child is already running');
    return new Promise((resolve, reject) => {
      const child = spawn(this.command, [...this.args], { env, stdio: 'inherit', shell: false });
      const ended = new Promise<ChildExit>((done) => {
        child.once('exit', (code, signal) => {
          if (this.child === child) {
            this.child = undefined;
            this.ended = undefined;
          }
          done({ code, signal, status: exitStatus(code, signal) });
        });
      });
      child.once('error', (err: NodeJS.ErrnoException) => {
        // 'error' without 'spawn': the command never ran (no 'exit' follows).
        if (child.pid === undefined) {
          if (this.child === child) this.child = undefined;
          reject(new SpawnError(this.command, err.code ?? 'error'));
        }
      });
      child.once('spawn', () => resolve({ ended }));
      this.child = child;
      this.ended = ended;
    });
  }

  /** Send `signal` to the running child (nothing if none). */
  send(signal: NodeJS.Signals): void {
    try {
      this.child?.kill(signal);
    } catch {
      // Gone between the check and the kill: its exit is reported through `ended`.
    }
  }

  /**
   * Stop the running child: `signal`, then SIGKILL if it is still running `graceMs` later.
   * Resolves with how it ended (and whether it had to be killed); undefined when none ran.
   */
  async stop(signal: NodeJS.Signals, graceMs: number): Promise<(ChildExit & { readonly killed: boolean }) | undefined> {
    const ended = this.ended;
    if (this.child === undefined || ended === undefined) return undefined;
    let killed = false;
    this.send(signal);
    const timer = setTimeout(() => {
      killed = true;
      this.send('SIGKILL');
    }, graceMs);
    try {
      const exit = await ended;
      return { ...exit, killed };
    } finally {
      clearTimeout(timer);
    }
  }
}
