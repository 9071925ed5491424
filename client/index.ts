/**
 * `clef-agent/client`: a typed client for Node.js applications that read their secrets from a
 * clef-agent next to them. No dependencies beyond node:http and node:fs.
 *
 * ```ts
 * import { createClient } from 'clef-agent/client';
 * const agent = createClient(); // CLEF_AGENT_SOCKET, else 127.0.0.1:$CLEF_AGENT_PORT (7779); CLEF_AGENT_TOKEN(_FILE)
 * const url = await agent.get('app__DATABASE_URL');
 * const watcher = agent.watch((secrets) => reconfigure(secrets));
 * await watcher.stop();
 * ```
 */
import { readFile } from 'node:fs/promises';
import { ClefAgentError } from './errors.js';
import { answerError, call, describeEndpoint, type Answer, type Endpoint } from './transport.js';
import { startWatch, type WatchOptions, type Watcher } from './watch.js';

export { ClefAgentError, type ClientReason } from './errors.js';
export type { WatchOptions, Watcher } from './watch.js';

/** The payload as the agent serves it: namespaces → keys → values (a flat payload: keys → values). */
export type Secrets = Readonly<Record<string, string | Readonly<Record<string, string>>>>;

export interface ClientOptions {
  /** `http://127.0.0.1:<port>` (or `localhost`); only loopback hosts unless `allowRemote`. */
  readonly url?: string;
  /** The agent's Unix socket (CLEF_AGENT_SOCKET). Exclusive with `url`. */
  readonly socketPath?: string;
  /** The bearer token. Exclusive with `tokenFile`. */
  readonly token?: string;
  /** A file holding the token (CLEF_AGENT_TOKEN_FILE); read on first use and again after a 401. */
  readonly tokenFile?: string;
  /** Where the defaults come from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Time limit of one request (default 10 000 ms). */
  readonly timeoutMs?: number;
  /**
   * Accept a non-loopback `url`. The token then travels over the network in plain http: the agent
   * itself only listens on 127.0.0.1, so this is only for a tunnel you trust.
   */
  readonly allowRemote?: boolean;
}

export interface ClefAgentClient {
  /** One value: a qualified name (`app__API_KEY`), `app/API_KEY`, or a bare key found in one namespace. */
  get(key: string): Promise<string>;
  /** The whole payload. */
  getAll(): Promise<Secrets>;
  /** The sorted qualified key names. */
  keys(): Promise<string[]>;
  /**
   * Calls `callback` with the whole payload once, then on every new revision, through the agent's
   * long-poll (`If-None-Match` + `?wait=`, SPEC §10.2): no request is made between changes but
   * the one waiting. Errors and agent restarts are retried with backoff (`onError` hears them).
   */
  watch(callback: (secrets: Secrets) => void | Promise<void>, options?: WatchOptions): Watcher;
  /** Where this client sends requests (`unix:/path` or `127.0.0.1:7779`). */
  readonly endpoint: string;
}

const DEFAULT_PORT = 7779;
const DEFAULT_TIMEOUT_MS = 10_000;

export function createClient(options: ClientOptions = {}): ClefAgentClient {
  const env = options.env ?? process.env;
  const endpoint = resolveEndpoint(options, env);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 1) throw new TypeError('clef-agent client: timeoutMs must be a positive integer');
  const tokens = tokenSource(options, env);

  /** GET `path` with the token; a 401 re-reads a token file once (the agent may have a new one) and retries. */
  const authed = async (path: string, o: { headers?: Record<string, string>; timeoutMs?: number; signal?: AbortSignal | undefined } = {}): Promise<Answer> => {
    const send = async (token: string): Promise<Answer> =>
      call(endpoint, path, { token, headers: o.headers, timeoutMs: o.timeoutMs ?? timeoutMs, signal: o.signal });
    const token = await tokens.get();
    const a = await send(token);
    if (a.status !== 401 || !tokens.fromFile) return a;
    const fresh = await tokens.get(true);
    return fresh === token ? a : send(fresh);
  };

  const json = async <T>(what: string, path: string, check: (v: unknown) => v is T): Promise<T> => {
    const a = await authed(path);
    if (a.status !== 200) throw answerError(what, a);
    return parseJson(what, a.body, check);
  };

  return {
    endpoint: describeEndpoint(endpoint),
    get: async (key) => {
      if (typeof key !== 'string' || key === '') throw new TypeError('clef-agent client: get(key) needs a non-empty key');
      const v = await json(`get(${JSON.stringify(key.slice(0, 100))})`, `/v1/secrets/${encodeURIComponent(key)}`, isKeyValue);
      return v.value;
    },
    getAll: () => json('getAll()', '/v1/secrets', isSecrets),
    keys: () => json('keys()', '/v1/keys', isStringArray),
    watch: (callback, watchOptions = {}) =>
      startWatch(callback, watchOptions, {
        request: (path, headers, requestTimeoutMs, signal) => authed(path, { headers, timeoutMs: requestTimeoutMs, signal }),
        parse: (body) => parseJson('watch()', body, isSecrets),
        timeoutMs,
      }),
  };
}

/** Options first, then the agent's own variables: CLEF_AGENT_SOCKET, else CLEF_AGENT_PORT, else 7779. */
function resolveEndpoint(o: ClientOptions, env: Readonly<Record<string, string | undefined>>): Endpoint {
  if (o.url !== undefined && o.socketPath !== undefined) throw new TypeError('clef-agent client: give url or socketPath, not both');
  if (o.socketPath !== undefined) return socketEndpoint(o.socketPath, 'socketPath');
  if (o.url !== undefined) return urlEndpoint(o.url, o.allowRemote === true);
  const socket = env['CLEF_AGENT_SOCKET'];
  if (socket !== undefined && socket !== '') return socketEndpoint(socket, 'CLEF_AGENT_SOCKET');
  const port = env['CLEF_AGENT_PORT'];
  if (port === undefined || port === '') return { kind: 'tcp', host: '127.0.0.1', port: DEFAULT_PORT };
  if (port === 'off') throw new TypeError('clef-agent client: CLEF_AGENT_PORT is off and CLEF_AGENT_SOCKET is not set: pass socketPath');
  const n = /^[0-9]{1,5}$/.test(port) ? Number(port) : NaN;
  if (!(n >= 1 && n <= 65_535)) throw new TypeError('clef-agent client: CLEF_AGENT_PORT must be an integer from 1 to 65535, or pass url');
  return { kind: 'tcp', host: '127.0.0.1', port: n };
}

function socketEndpoint(path: string, name: string): Endpoint {
  if (path === '' || path.includes('\0')) throw new TypeError(`clef-agent client: ${name} must be a file path`);
  return { kind: 'socket', path };
}

/** The client sends a bearer token: by default only to the loopback interface, over http. */
function urlEndpoint(raw: string, allowRemote: boolean): Endpoint {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new TypeError('clef-agent client: url is not a valid URL');
  }
  if (u.protocol !== 'http:') throw new TypeError(`clef-agent client: url must be http:// (the agent serves plain http on loopback), not ${u.protocol}`);
  if (u.username !== '' || u.password !== '') throw new TypeError('clef-agent client: url must not carry credentials; use token or tokenFile');
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '')
    throw new TypeError("clef-agent client: url must be the agent's base URL, e.g. http://127.0.0.1:7779");
  const host = u.hostname.replace(/^\[|\]$/g, '');
  if (!allowRemote && !isLoopback(host)) {
    throw new TypeError(
      `clef-agent client: url host ${JSON.stringify(host)} is not a loopback address; the token would leave this machine (set allowRemote to insist)`,
    );
  }
  return { kind: 'tcp', host, port: u.port === '' ? 80 : Number(u.port) };
}

function isLoopback(host: string): boolean {
  const h = host.toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(h);
}

interface TokenSource {
  readonly fromFile: boolean;
  /** The token; `reload` re-reads a token file. */
  get(reload?: boolean): Promise<string>;
}

function tokenSource(o: ClientOptions, env: Readonly<Record<string, string | undefined>>): TokenSource {
  if (o.token !== undefined && o.tokenFile !== undefined) throw new TypeError('clef-agent client: give token or tokenFile, not both');
  const inline = o.token ?? (o.tokenFile === undefined ? nonEmpty(env['CLEF_AGENT_TOKEN']) : undefined);
  if (inline !== undefined) return { fromFile: false, get: () => Promise.resolve(inline) };
  const file = o.tokenFile ?? nonEmpty(env['CLEF_AGENT_TOKEN_FILE']);
  if (file === undefined) {
    const missing = new ClefAgentError('no token: pass token or tokenFile, or set CLEF_AGENT_TOKEN or CLEF_AGENT_TOKEN_FILE', {
      status: 0,
      reason: 'no_token',
    });
    return { fromFile: false, get: () => Promise.reject(missing) };
  }
  let cached: Promise<string> | undefined;
  const read = async (): Promise<string> => {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new ClefAgentError(`cannot read the token file ${JSON.stringify(file)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, {
        status: 0,
        reason: 'no_token',
      });
    }
    const token = text.trim();
    if (token === '') throw new ClefAgentError(`the token file ${JSON.stringify(file)} is empty`, { status: 0, reason: 'no_token' });
    return token;
  };
  return {
    fromFile: true,
    get: (reload = false) => {
      if (reload || cached === undefined) {
        cached = read();
        // A failed read is retried next time, not remembered.
        cached.catch(() => (cached = undefined));
      }
      return cached;
    },
  };
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}

function parseJson<T>(what: string, body: Buffer, check: (v: unknown) => v is T): T {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch {
    throw new ClefAgentError(`${what}: the answer is not JSON`, { status: 200, reason: 'bad_response' });
  }
  if (!check(v)) throw new ClefAgentError(`${what}: the answer does not have the expected shape`, { status: 200, reason: 'bad_response' });
  return v;
}

function isKeyValue(v: unknown): v is { key: string; value: string } {
  return typeof v === 'object' && v !== null && typeof (v as { value?: unknown }).value === 'string';
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((k) => typeof k === 'string');
}

function isSecrets(v: unknown): v is Secrets {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.values(v as Record<string, unknown>).every(
    (x) =>
      typeof x === 'string' ||
      (typeof x === 'object' && x !== null && !Array.isArray(x) && Object.values(x as Record<string, unknown>).every((y) => typeof y === 'string')),
  );
}
