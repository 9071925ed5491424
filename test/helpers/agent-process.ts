/**
 * Starts the built agent (`dist/src/main.js`) as a real child process and talks real HTTP to it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { fileURLToPath } from 'node:url';

export const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface LogLine {
  readonly level?: string;
  readonly msg?: string;
  readonly event?: string;
  readonly [k: string]: unknown;
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  json<T = unknown>(): T;
}

export interface RequestOptions {
  readonly method?: string;
  /** Extra headers; `host: null` sends no Host header at all. */
  readonly headers?: Record<string, string | null>;
  readonly token?: string;
}

export class AgentProcess {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  port = 0;
  readonly token: string;
  private readonly exited: Promise<number | null>;
  /**
   * Resolves with the exit code once the process exited AND its stdout/stderr were read to the end
   * ('close'). 'exit' can come before the last output is read, so read `stderr` after this one.
   */
  readonly closed: Promise<number | null>;
  private listeners: Array<() => void> = [];

  /** `options.cwd`: the agent's working directory (default: the test runner's). */
  constructor(env: Record<string, string>, args: string[] = [], options: { readonly cwd?: string } = {}) {
    this.token = env['CLEF_AGENT_TOKEN'] ?? '';
    this.child = spawn(process.execPath, [MAIN, ...args], {
      ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
      // A clean environment: only what the test gives, plus PATH.
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CLEF_AGENT_PORT: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout?.setEncoding('utf8').on('data', (d: string) => {
      this.stdout += d;
      this.notify();
    });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => {
      this.stderr += d;
      this.notify();
    });
    this.closed = new Promise((resolve) => this.child.once('close', (code) => resolve(code)));
    this.exited = new Promise((resolve) =>
      this.child.once('exit', (code) => {
        this.notify();
        resolve(code);
      }),
    );
  }

  get output(): string {
    return this.stdout + this.stderr;
  }

  logs(): LogLine[] {
    return this.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as LogLine);
  }

  /** Resolves with the first log line matching `pred`; rejects on exit or timeout. */
  waitForLog(pred: (l: LogLine) => boolean, timeoutMs = 15_000): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const hit = this.logs().find(pred);
        if (hit) {
          done();
          resolve(hit);
          return true;
        }
        if (this.child.exitCode !== null || this.child.signalCode !== null) {
          done();
          reject(new Error(`agent exited (${this.child.exitCode ?? this.child.signalCode}) before the expected log line\n${this.output}`));
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for a log line\n${this.output}`));
      }, timeoutMs);
      const listener = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
      };
      this.listeners.push(listener);
      check();
    });
  }

  /** Wait for the server to listen; sets `port`. */
  async listening(): Promise<this> {
    const line = await this.waitForLog((l) => l.event === 'listening');
    this.port = line['port'] as number;
    return this;
  }

  /** Wait until `/v1/ready` answers 200. */
  async ready(timeoutMs = 15_000): Promise<this> {
    if (this.port === 0) await this.listening();
    await this.waitForLog((l) => l.event === 'artifact.refreshed', timeoutMs);
    return this;
  }

  request(path: string, o: RequestOptions = {}): Promise<HttpAnswer> {
    return httpRequest(this.port, path, { ...o, token: o.token ?? this.token });
  }

  /** Send a signal and wait for the exit code. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }

  /** Wait for the process to exit by itself. */
  exit(): Promise<number | null> {
    return this.exited;
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }
}

/** A raw node:http request so tests control every header, including Host. */
export function httpRequest(port: number, path: string, o: RequestOptions = {}): Promise<HttpAnswer> {
  const headers: Record<string, string> = { host: `127.0.0.1:${port}` };
  if (o.token) headers['authorization'] = `Bearer ${o.token}`;
  let omitHost = false;
  for (const [k, v] of Object.entries(o.headers ?? {})) {
    if (v === null) {
      delete headers[k.toLowerCase()];
      if (k.toLowerCase() === 'host') omitHost = true;
    } else headers[k.toLowerCase()] = v;
  }
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, path, method: o.method ?? 'GET', headers, setHost: !omitHost && headers['host'] === undefined, agent: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: <T>() => JSON.parse(body) as T }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}
