/**
 * A local AWS Lambda Extensions API (version 2020-01-01) for one extension, enforcing the protocol
 * as AWS documents it:
 * - `POST /2020-01-01/extension/register`: header `Lambda-Extension-Name` (non-empty), JSON body
 *   `{"events":[…]}` naming only `INVOKE`/`SHUTDOWN`; only during init; answers 200 with a
 *   `Lambda-Extension-Identifier` header and `{functionName, functionVersion, handler}`.
 * - Every later call carries that identifier (`Lambda-Extension-Identifier`); a missing or unknown
 *   one is answered 403 `Extension.Unknown…`.
 * - `GET …/event/next` blocks until the test sends INVOKE (`deadlineMs`, `requestId`,
 *   `invokedFunctionArn`, `tracing`) or SHUTDOWN (`shutdownReason`, `deadlineMs`), with a
 *   `Lambda-Extension-Event-Identifier` header.
 * - `POST …/init/error` and `…/exit/error`: header `Lambda-Extension-Function-Error-Type` and a JSON
 *   body `{errorMessage, errorType}`; answered 202 `{"status":"OK"}`.
 * Anything else is a protocol violation: answered 4xx with Lambda's `{errorMessage, errorType}` body
 * and recorded in `violations`, which a test asserts empty.
 *
 * "Freeze" (Lambda freezes the sandbox between invocations): `freeze(pid)` waits until the
 * extension is parked in `event/next`, stops answering and SIGSTOPs the process; `thaw()` SIGCONTs it.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { LocalServer } from './local-server.js';

const PREFIX = '/2020-01-01/extension/';
const FUNCTION_ARN = 'arn:aws:lambda:eu-west-1:123456789012:function:clef-test';

export interface Registration {
  readonly name: string;
  readonly events: readonly string[];
  readonly id: string;
  /** When the register request arrived (epoch ms). */
  readonly at: number;
}

export interface ReportedErrorCall {
  readonly path: 'init/error' | 'exit/error';
  readonly errorTypeHeader: string;
  readonly body: { readonly errorMessage: string; readonly errorType: string; readonly [k: string]: unknown };
  readonly at: number;
}

export interface SentEvent {
  readonly eventType: 'INVOKE' | 'SHUTDOWN';
  readonly deadlineMs: number;
  readonly requestId?: string;
  readonly shutdownReason?: string;
  /** When it was handed to the extension. */
  readonly at: number;
}

export class LambdaExtensionsApi extends LocalServer {
  registration: Registration | undefined;
  readonly errors: ReportedErrorCall[] = [];
  readonly violations: string[] = [];
  readonly sent: SentEvent[] = [];
  /** `event/next` calls answered or parked, in order. */
  nextCalls = 0;
  private parked: ServerResponse | undefined;
  private readonly queued: object[] = [];
  private parkWaiters: (() => void)[] = [];
  private initDone = false;
  private frozenPid: number | undefined;

  /** `AWS_LAMBDA_RUNTIME_API` for the extension: `127.0.0.1:<port>`. */
  get runtimeApi(): string {
    return `127.0.0.1:${this.port}`;
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = req.url ?? '';
    if (!url.startsWith(PREFIX)) return this.refuse(res, 404, 'InvalidRequest', `unknown path ${url}`);
    const path = url.slice(PREFIX.length);
    if (path === 'register') return this.register(req, res, body);
    // Every other call needs the identifier /register returned.
    const id = req.headers['lambda-extension-identifier'];
    if (this.registration === undefined || id !== this.registration.id) {
      return this.refuse(res, 403, 'Extension.UnknownExtensionIdentifier', `${path}: missing or unknown Lambda-Extension-Identifier`);
    }
    if (path === 'event/next') {
      if (req.method !== 'GET') return this.refuse(res, 405, 'InvalidRequest', `event/next with ${req.method}`);
      this.nextCalls++;
      this.initDone = true;
      const event = this.queued.shift();
      if (event !== undefined) return this.deliver(res, event);
      this.parked = res;
      res.on('close', () => {
        if (this.parked === res) this.parked = undefined;
      });
      const waiters = this.parkWaiters;
      this.parkWaiters = [];
      for (const w of waiters) w();
      return;
    }
    if (path === 'init/error' || path === 'exit/error') return this.reportError(path, req, res, body);
    return this.refuse(res, 404, 'InvalidRequest', `unknown path ${url}`);
  }

  private register(req: IncomingMessage, res: ServerResponse, body: string): void {
    if (req.method !== 'POST') return this.refuse(res, 405, 'InvalidRequest', `register with ${req.method}`);
    if (this.initDone || this.registration !== undefined) return this.refuse(res, 403, 'Extension.InvalidState', 'register outside the init phase, or twice');
    const name = req.headers['lambda-extension-name'];
    if (typeof name !== 'string' || name === '') return this.refuse(res, 400, 'InvalidRequest', 'register without Lambda-Extension-Name');
    let events: unknown;
    try {
      events = (JSON.parse(body) as { events?: unknown }).events;
    } catch {
      return this.refuse(res, 400, 'InvalidRequest', 'register body is not JSON');
    }
    if (!Array.isArray(events) || events.length === 0 || events.some((e) => e !== 'INVOKE' && e !== 'SHUTDOWN')) {
      return this.refuse(res, 400, 'InvalidRequest', `register events must be a non-empty subset of INVOKE, SHUTDOWN: ${JSON.stringify(events)}`);
    }
    this.registration = { name, events: events as string[], id: randomUUID(), at: Date.now() };
    res.writeHead(200, { 'Content-Type': 'application/json', 'Lambda-Extension-Identifier': this.registration.id });
    res.end(JSON.stringify({ functionName: 'clef-test', functionVersion: '$LATEST', handler: 'index.handler' }));
  }

  private reportError(path: 'init/error' | 'exit/error', req: IncomingMessage, res: ServerResponse, body: string): void {
    if (req.method !== 'POST') return this.refuse(res, 405, 'InvalidRequest', `${path} with ${req.method}`);
    const type = req.headers['lambda-extension-function-error-type'];
    if (typeof type !== 'string' || type === '') return this.refuse(res, 400, 'InvalidRequest', `${path} without Lambda-Extension-Function-Error-Type`);
    let parsed: ReportedErrorCall['body'];
    try {
      parsed = JSON.parse(body) as ReportedErrorCall['body'];
    } catch {
      return this.refuse(res, 400, 'InvalidRequest', `${path} body is not JSON`);
    }
    if (typeof parsed.errorMessage !== 'string' || typeof parsed.errorType !== 'string') {
      return this.refuse(res, 400, 'InvalidRequest', `${path} body needs string errorMessage and errorType`);
    }
    if (path === 'init/error' && this.initDone) return this.refuse(res, 403, 'Extension.InvalidState', 'init/error after init');
    this.errors.push({ path, errorTypeHeader: type, body: parsed, at: Date.now() });
    res.writeHead(202, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ status: 'OK' }));
  }

  private refuse(res: ServerResponse, status: number, errorType: string, message: string): void {
    this.violations.push(message);
    res.writeHead(status, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify({ errorMessage: message, errorType }));
  }

  private deliver(res: ServerResponse, event: object): void {
    const e = event as SentEvent;
    this.sent.push({ ...e, at: Date.now() });
    res.writeHead(200, { 'Content-Type': 'application/json', 'Lambda-Extension-Event-Identifier': randomUUID() });
    res.end(JSON.stringify(event));
  }

  private send(event: object): void {
    const parked = this.parked;
    this.parked = undefined;
    if (parked !== undefined) this.deliver(parked, event);
    else this.queued.push(event);
  }

  /** Resolves once the extension is parked in `event/next` (done with init or the last event). */
  async parkedInNext(timeoutMs = 20_000): Promise<void> {
    if (this.parked !== undefined) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the extension did not call event/next within ${timeoutMs} ms`)), timeoutMs);
      this.parkWaiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /**
   * Sends INVOKE and resolves when the extension asks for the next event again (it finished the
   * invocation), with the time that took.
   */
  async invoke(o: { readonly timeoutMs?: number; readonly deadlineInMs?: number } = {}): Promise<{ requestId: string; ms: number }> {
    const requestId = randomUUID();
    const started = Date.now();
    const calls = this.nextCalls;
    this.send({
      eventType: 'INVOKE',
      deadlineMs: Date.now() + (o.deadlineInMs ?? 3_000),
      requestId,
      invokedFunctionArn: FUNCTION_ARN,
      tracing: {
        type: 'X-Amzn-Trace-Id',
        value: `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomUUID().replace(/-/g, '').slice(0, 24)};Sampled=0`,
      },
    });
    while (this.nextCalls === calls || this.parked === undefined) await this.parkedInNext(o.timeoutMs);
    return { requestId, ms: Date.now() - started };
  }

  /** Sends SHUTDOWN with a deadline `deadlineInMs` from now; returns that deadline (epoch ms). */
  shutdown(deadlineInMs = 2_000, reason = 'spindown'): number {
    const deadlineMs = Date.now() + deadlineInMs;
    this.send({ eventType: 'SHUTDOWN', shutdownReason: reason, deadlineMs });
    return deadlineMs;
  }

  /** Freezes the sandbox between invocations: the extension parked in `event/next`, its process stopped. */
  async freeze(pid: number): Promise<void> {
    await this.parkedInNext();
    process.kill(pid, 'SIGSTOP');
    this.frozenPid = pid;
  }

  /** Resumes a frozen process (before sending it the next event). */
  thaw(): void {
    if (this.frozenPid !== undefined) process.kill(this.frozenPid, 'SIGCONT');
    this.frozenPid = undefined;
  }

  override async close(): Promise<void> {
    try {
      this.thaw();
    } catch {
      // already gone
    }
    await super.close();
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
