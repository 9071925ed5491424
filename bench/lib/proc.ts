/**
 * Child processes of the bench: every one pinned with `taskset` when a CPU list is given, spoken
 * to over IPC, and killed by the bench when it is done with them (or when the bench exits).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

/** dist/ root: this file is dist/bench/lib/proc.js. */
export const DIST = fileURLToPath(new URL('../../', import.meta.url));
export const distFile = (rel: string): string => fileURLToPath(new URL(`../../${rel}`, import.meta.url));
/**
 * The shipped build of the agent (scripts/build-prod.mjs, one bundle per thread), which
 * scripts/bench.mjs writes to dist/bundle/ for the bench: `bundleFile('src/main.js')`.
 */
export const bundleFile = (rel: string): string => fileURLToPath(new URL(`../../bundle/${rel}`, import.meta.url));
/** The repository root (dist/..). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

export interface SpawnOptions {
  /** `taskset -c` CPU list, or undefined for no pinning. */
  readonly cpus?: string | undefined;
  /** `nice -n` adjustment (negative: higher priority), or undefined for the default. */
  readonly nice?: number | undefined;
  readonly env?: Readonly<Record<string, string>>;
  /** Extra node flags, before the script. */
  readonly nodeArgs?: readonly string[];
  /** Pipe stdout/stderr (to read logs) instead of inheriting stderr and ignoring stdout. */
  readonly pipe?: boolean;
}

/** `node [nodeArgs] script ...args`, optionally under `taskset -c cpus`, with an IPC channel. */
export function spawnNode(script: string, args: readonly string[], o: SpawnOptions = {}): ChildProcess {
  const nodeCmd = [process.execPath, ...(o.nodeArgs ?? []), script, ...args];
  const pinned = o.cpus === undefined ? nodeCmd : ['taskset', '-c', o.cpus, ...nodeCmd];
  const [cmd, ...rest] = o.nice === undefined ? pinned : ['nice', '-n', String(o.nice), ...pinned];
  const child = spawn(cmd ?? process.execPath, rest, {
    env: o.env ? { ...o.env } : process.env,
    stdio: ['ignore', o.pipe === true ? 'pipe' : 'ignore', o.pipe === true ? 'pipe' : 'inherit', 'ipc'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** `node -e code`, as `spawnNode` starts a script (pinned, IPC channel, killed with the bench). */
export function spawnNodeEval(code: string, o: SpawnOptions = {}): ChildProcess {
  return spawnNode(code, [], { ...o, nodeArgs: [...(o.nodeArgs ?? []), '-e'] });
}

/** Resolves with the first IPC message that `pick` accepts; rejects on exit or timeout. */
export function nextMessage<T>(child: ChildProcess, pick: (m: unknown) => T | undefined, timeoutMs: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      const v = pick(m);
      if (v !== undefined) finish(() => resolve(v));
    };
    const onExit = (code: number | null): void => finish(() => reject(new Error(`${what}: process exited (${code ?? 'signal'})`)));
    const timer = setTimeout(() => finish(() => reject(new Error(`${what}: no answer within ${timeoutMs} ms`))), timeoutMs);
    const finish = (then: () => void): void => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
      then();
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

/**
 * Calls `each` with every JSON log line the agent writes to stdout, with the time
 * (`performance.now()`) its chunk arrived; other lines are skipped.
 */
export function eachLogLine<T>(child: ChildProcess, each: (line: T, atMs: number) => void): void {
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    const at = performance.now();
    buffered += d;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith('{')) each(JSON.parse(line) as T, at);
    }
  });
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopChild(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

export interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

/** One GET on a fresh connection (bounded by `timeoutMs`). */
export function get(port: number, path: string, headers: Readonly<Record<string, string>> = {}, timeoutMs = 5_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, headers, agent: false, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`GET ${path} timed out`)));
    req.once('error', reject);
    req.end();
  });
}

/** A loopback port free right now (for a process that must be told its port before it starts). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const address = s.address();
      s.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}
