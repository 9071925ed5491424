/**
 * A client for the AWS Lambda Extensions API (SPEC §6), on node:http: the main thread loads no
 * HTTP library of its own, and every call here goes to the local endpoint Lambda names in
 * `AWS_LAMBDA_RUNTIME_API` (`host:port`, plain http inside the sandbox).
 *
 * Wire protocol (version 2020-01-01), as AWS documents it:
 * - `POST /register`, header `Lambda-Extension-Name` (the executable's file name), body
 *   `{"events":[…]}`; the answer's `Lambda-Extension-Identifier` header goes on every later call.
 * - `GET /event/next` blocks until the next event: `INVOKE` or `SHUTDOWN`, each with `deadlineMs`.
 * - `POST /init/error`, `POST /exit/error`, header `Lambda-Extension-Function-Error-Type`, body
 *   `{"errorMessage","errorType"}`; Lambda then resets the sandbox.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { http } from '../http/node-http.js';

export const EXTENSIONS_API_VERSION = '2020-01-01';

/** Why a call failed: a stable code (logs match on it), never a secret in the message. */
export type ExtensionsApiErrorCode = 'unreachable' | 'http_status' | 'bad_answer';

export class ExtensionsApiError extends Error {
  readonly code: ExtensionsApiErrorCode;
  constructor(code: ExtensionsApiErrorCode, message: string) {
    super(message);
    this.name = 'ExtensionsApiError';
    this.code = code;
  }
}

export interface InvokeEvent {
  readonly eventType: 'INVOKE';
  readonly deadlineMs: number;
  readonly requestId: string;
  readonly invokedFunctionArn: string;
}

export interface ShutdownEvent {
  readonly eventType: 'SHUTDOWN';
  readonly deadlineMs: number;
  readonly shutdownReason: string;
}

export type ExtensionEvent = InvokeEvent | ShutdownEvent;

/** An error reported through `/init/error` or `/exit/error`: no secret, credentials masked (the caller's message is). */
export interface ReportedError {
  /** `Extension.<Reason>`, sent as `Lambda-Extension-Function-Error-Type` and as `errorType`. */
  readonly type: string;
  readonly message: string;
}

/** Largest answer body read: events are a few hundred bytes. */
const MAX_ANSWER_BYTES = 64 * 1024;
/** Calls other than `event/next` (which waits for as long as the sandbox lives) are bounded. */
const CALL_TIMEOUT_MS = 5_000;

/**
 * Parses `AWS_LAMBDA_RUNTIME_API` (`host:port`). Throws a message naming the variable and what is
 * accepted: the value is an address, not a secret, so it may be shown.
 */
export function extensionsApiBase(raw: string): URL {
  const bad = (): Error => new Error(`AWS_LAMBDA_RUNTIME_API: "${raw}" is not a host:port address (Lambda sets it, e.g. 127.0.0.1:9001)`);
  if (!/^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(raw)) throw bad();
  let url: URL;
  try {
    url = new URL(`http://${raw}/${EXTENSIONS_API_VERSION}/extension/`);
  } catch {
    throw bad();
  }
  if (url.port === '' || Number(url.port) < 1) throw bad();
  return url;
}

export class ExtensionsApi {
  private identifier: string | undefined;

  constructor(private readonly base: URL) {}

  /** Registers for INVOKE and SHUTDOWN under `name`; keeps the identifier for later calls. */
  async register(name: string): Promise<string> {
    const answer = await this.call('POST', 'register', { 'Lambda-Extension-Name': name }, { events: ['INVOKE', 'SHUTDOWN'] }, CALL_TIMEOUT_MS);
    const id = answer.headers['lambda-extension-identifier'];
    if (typeof id !== 'string' || id === '') throw new ExtensionsApiError('bad_answer', 'register: the answer has no Lambda-Extension-Identifier header');
    this.identifier = id;
    return id;
  }

  /** Waits for the next event (no timeout: the sandbox may be frozen for as long as Lambda likes). */
  async next(): Promise<ExtensionEvent> {
    const answer = await this.call('GET', 'event/next', this.idHeader(), undefined, undefined);
    return parseEvent(answer.body);
  }

  /** `/init/error`: the extension failed during init; Lambda then fails the init (needs the identifier: register first). */
  async initError(e: ReportedError): Promise<void> {
    await this.reportError('init/error', e);
  }

  /** `/exit/error`: the extension is about to exit because of `e`. */
  async exitError(e: ReportedError): Promise<void> {
    await this.reportError('exit/error', e);
  }

  private async reportError(path: string, e: ReportedError): Promise<void> {
    await this.call(
      'POST',
      path,
      { ...this.idHeader(), 'Lambda-Extension-Function-Error-Type': e.type },
      { errorMessage: e.message, errorType: e.type },
      CALL_TIMEOUT_MS,
    );
  }

  private idHeader(): Record<string, string> {
    if (this.identifier === undefined) throw new ExtensionsApiError('bad_answer', 'not registered: the Extensions API needs the identifier from /register');
    return { 'Lambda-Extension-Identifier': this.identifier };
  }

  private call(
    method: 'GET' | 'POST',
    path: string,
    headers: Record<string, string>,
    body: unknown,
    timeoutMs: number | undefined,
  ): Promise<{ headers: IncomingHttpHeaders; body: string }> {
    const url = new URL(path, this.base);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        url,
        {
          method,
          // One connection per call: a kept-alive socket would outlive a freeze and could be gone after it.
          agent: false,
          headers: { ...headers, ...(payload === undefined ? {} : { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(payload) }) },
        },
        (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_ANSWER_BYTES) {
              req.destroy(new ExtensionsApiError('bad_answer', `${path}: the answer is larger than ${MAX_ANSWER_BYTES} bytes`));
              return;
            }
            chunks.push(c);
          });
          res.on('error', reject);
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            const status = res.statusCode ?? 0;
            if (status < 200 || status > 299) {
              // Lambda's error bodies are {errorMessage, errorType}: its own words, no secret of ours.
              reject(new ExtensionsApiError('http_status', `${method} ${path}: HTTP ${status}${errorTypeOf(text)}`));
              return;
            }
            resolve({ headers: res.headers, body: text });
          });
        },
      );
      if (timeoutMs !== undefined) {
        req.setTimeout(timeoutMs, () => req.destroy(new ExtensionsApiError('unreachable', `${method} ${path}: no answer within ${timeoutMs} ms`)));
      }
      req.on('error', (err) =>
        reject(
          err instanceof ExtensionsApiError
            ? err
            : new ExtensionsApiError('unreachable', `${method} ${path}: ${(err as NodeJS.ErrnoException).code ?? err.message}`),
        ),
      );
      req.end(payload);
    });
  }
}

function errorTypeOf(text: string): string {
  try {
    const t = (JSON.parse(text) as { errorType?: unknown }).errorType;
    return typeof t === 'string' ? ` (${t.slice(0, 100)})` : '';
  } catch {
    return '';
  }
}

function parseEvent(text: string): ExtensionEvent {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new ExtensionsApiError('bad_answer', 'event/next: the event is not JSON');
  }
  const e = v as Record<string, unknown>;
  if (typeof v !== 'object' || v === null || typeof e['deadlineMs'] !== 'number' || !Number.isFinite(e['deadlineMs'])) {
    throw new ExtensionsApiError('bad_answer', 'event/next: the event has no numeric deadlineMs');
  }
  const deadlineMs = e['deadlineMs'];
  if (e['eventType'] === 'INVOKE') {
    return { eventType: 'INVOKE', deadlineMs, requestId: str(e['requestId']), invokedFunctionArn: str(e['invokedFunctionArn']) };
  }
  if (e['eventType'] === 'SHUTDOWN') return { eventType: 'SHUTDOWN', deadlineMs, shutdownReason: str(e['shutdownReason']) };
  throw new ExtensionsApiError('bad_answer', `event/next: unknown eventType ${JSON.stringify(String(e['eventType'])).slice(0, 60)}`);
}

/** A string field of an event, or '' when absent or not a string (Lambda's own values, only logged). */
function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}
