/** Runs a node script (a built CLI) or any command as a child to its end: output collected, always bounded. */
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** All the child sees besides PATH. */
  readonly env?: Readonly<Record<string, string>>;
  /** SIGKILL after this long (the code is then null and `signal` SIGKILL). Default 30 s. */
  readonly timeoutMs?: number;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** `node script ...args` with a clean environment; resolves once it exited and its output was read. */
export function runNode(script: string, args: readonly string[], o: RunOptions = {}): Promise<RunResult> {
  return runCommand(process.execPath, [script, ...args], { ...o, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...o.env } });
}

/** Any command, with exactly the environment given (and the working directory, if given); same bounds as runNode. */
export function runCommand(command: string, args: readonly string[], o: RunOptions & { readonly cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: o.cwd, env: o.env ?? {}, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? 30_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(kill);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
