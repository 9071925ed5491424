/**
 * One HTTP request to the agent over node:http: to a loopback TCP port or the agent's Unix socket,
 * with the bearer token, a time limit and an abort signal, the body read whole (the agent's answers
 * are small and bounded by the artifact size cap).
 */
import type * as Http from 'node:http';
import { createRequire } from 'node:module';
import { ClefAgentError } from './errors.js';

// node:http by require(): on Node 22 and later an ES import of it reads every export, and its lazy
// WebSocket getters load Node's whole fetch implementation, 20-45 ms of an application's (or a
// Lambda function's) cold start, for nothing used here.
const http = createRequire(import.meta.url)('node:http') as typeof Http;

/** Where the agent listens. */
export type Endpoint = { readonly kind: 'tcp'; readonly host: string; readonly port: number } | { readonly kind: 'socket'; readonly path: string };

export interface Answer {
  readonly status: number;
  readonly headers: Http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface CallOptions {
  readonly token?: string | undefined;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

export function describeEndpoint(e: Endpoint): string {
  return e.kind === 'socket' ? `unix:${e.path}` : `${e.host.includes(':') ? `[${e.host}]` : e.host}:${e.port}`;
}

export function call(endpoint: Endpoint, path: string, o: CallOptions): Promise<Answer> {
  const headers: Record<string, string> = { accept: 'application/json', ...o.headers };
  if (o.token !== undefined) headers['authorization'] = `Bearer ${o.token}`;
  // On the socket the agent accepts a Host without a port (SPEC §10.4); node:http would send `localhost` anyway.
  const target =
    endpoint.kind === 'socket'
      ? { socketPath: endpoint.path, headers: { ...headers, host: 'localhost' } }
      : { host: endpoint.host, port: endpoint.port, headers };
  const where = describeEndpoint(endpoint);
  return new Promise((resolve, reject) => {
    if (o.signal?.aborted === true) {
      reject(new ClefAgentError(`request to ${where} aborted`, { status: 0, reason: 'aborted' }));
      return;
    }
    let settled = false;
    const fail = (err: ClefAgentError): void => {
      if (settled) return;
      settled = true;
      cleanup();
      req.destroy();
      reject(err);
    };
    const onAbort = (): void => fail(new ClefAgentError(`request to ${where} aborted`, { status: 0, reason: 'aborted' }));
    const timer = setTimeout(
      () => fail(new ClefAgentError(`no answer from ${where} within ${o.timeoutMs} ms`, { status: 0, reason: 'client_timeout' })),
      o.timeoutMs,
    );
    const cleanup = (): void => {
      clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
    };
    o.signal?.addEventListener('abort', onAbort, { once: true });
    const req = http.request({ ...target, path, method: 'GET', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('error', (err) => fail(unreachable(where, err)));
      res.on('end', () => {
        if (settled) return;
        settled = true;
        cleanup();
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
      });
    });
    req.on('error', (err) => fail(unreachable(where, err)));
    req.end();
  });
}

function unreachable(where: string, err: Error): ClefAgentError {
  const code = (err as NodeJS.ErrnoException).code;
  return new ClefAgentError(`cannot reach the agent at ${where}: ${code ?? err.message}`, { status: 0, reason: 'unreachable', cause: err });
}

/** The error an answer other than 200 (or 304, where expected) stands for, with the API's `reason`. */
export function answerError(what: string, a: Answer): ClefAgentError {
  let reason = `http_${a.status}`;
  let message = '';
  let candidates: readonly string[] | undefined;
  try {
    const body = JSON.parse(a.body.toString('utf8')) as { reason?: unknown; error?: unknown; candidates?: unknown };
    if (typeof body.reason === 'string' && /^[a-z_]{1,40}$/.test(body.reason)) reason = body.reason;
    if (typeof body.error === 'string') message = body.error.slice(0, 200);
    if (Array.isArray(body.candidates)) candidates = body.candidates.filter((c): c is string => typeof c === 'string');
  } catch {
    // Not the agent's JSON error body: the status alone speaks.
  }
  return new ClefAgentError(`${what}: HTTP ${a.status} ${reason}${message === '' ? '' : ` (${message})`}`, { status: a.status, reason, candidates });
}
