/**
 * HTTP(S) sources (SPEC §4.1, §4.2, §5.1): conditional GET with the ETag marker, a per-attempt
 * deadline covering headers and body, a size cap counted after decompression, retries for
 * transient failures only, same-host https-only redirects, and the link-local guard.
 *
 * ky is the request layer; retries, timeouts and redirects are driven here rather than by ky,
 * because the rules (rate-limit 403s, a deadline that also covers the body, per-hop redirect
 * checks) are stricter than what its options express.
 */
import ky, { type Options } from 'ky';
import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';
import type { FetchPolicy, TaskFailure } from '../../common/protocol.js';
import { fail, maskUrl } from '../result.js';
import { FORBIDDEN_ADDRESS, guardedLookup, isForbiddenAddress, isLoopbackHost, literalIp, type Resolver } from './address.js';
import type { FetchOutcome } from './types.js';

export interface HttpDeps {
  /** DNS resolver behind the link-local guard (tests inject one). */
  readonly resolve?: Resolver | undefined;
  /** Backoff sleeper (tests may shorten it). */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
}

const MAX_REDIRECTS = 5;

/** One attempt's verdict: `transient` failures may be retried by the caller. */
type Attempt = { readonly done: FetchOutcome | TaskFailure } | { readonly transient: TaskFailure; readonly retryAfterMs?: number | undefined };

export async function fetchHttp(rawUrl: string, policy: FetchPolicy, marker: string | undefined, deps: HttpDeps = {}): Promise<FetchOutcome | TaskFailure> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return fail('fetch_failed', 'the source URL cannot be parsed');
  }
  const shown = maskUrl(url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return fail('insecure_source', `${shown}: only http(s) URLs are supported`);
  if (url.protocol === 'http:' && !policy.allowHttp && !isLoopbackHost(url.hostname)) {
    return fail('insecure_source', `${shown}: plain http to a non-loopback host is refused (set CLEF_AGENT_VERIFY_KEY or CLEF_AGENT_ALLOW_HTTP=true)`);
  }
  const ip = literalIp(url.hostname);
  if (ip !== null && isForbiddenAddress(ip)) return fail('forbidden_address', `${shown}: link-local addresses (cloud metadata) are never fetched`);

  const headers: Record<string, string> = { accept: 'application/json, */*;q=0.5', 'user-agent': 'clef-agent' };
  if (url.username !== '' || url.password !== '') {
    // fetch refuses URLs with userinfo; it becomes Basic auth, sent only to this host (redirects
    // never leave it).
    let user: string;
    let pass: string;
    try {
      user = decodeURIComponent(url.username);
      pass = decodeURIComponent(url.password);
    } catch {
      return fail('fetch_failed', `${shown}: the URL credentials are not valid percent-encoding`);
    }
    headers['authorization'] = `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  url.hash = '';
  if (marker !== undefined) headers['if-none-match'] = marker;

  const own = deps.resolve !== undefined ? makeDispatcher(false, deps.resolve) : undefined;
  const dispatcher = own ?? sharedDispatcher(isLoopbackHost(url.hostname));
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  try {
    for (let attempt = 0; ; attempt++) {
      const r = await attemptOnce(url, headers, policy, marker, dispatcher);
      if ('done' in r) return r.done;
      if (attempt >= policy.retries) return r.transient;
      // Short exponential backoff with jitter (200 ms, 400 ms, …), stretched to a small
      // Retry-After; the whole-load retries of §4.2 sit above this.
      const backoff = 200 * 2 ** attempt + Math.floor(Math.random() * 100);
      await sleep(Math.max(backoff, Math.min(r.retryAfterMs ?? 0, 2000)));
    }
  } finally {
    if (own !== undefined) await own.close().catch(() => undefined);
  }
}

async function attemptOnce(
  start: URL,
  headers: Record<string, string>,
  policy: FetchPolicy,
  marker: string | undefined,
  dispatcher: Dispatcher,
): Promise<Attempt> {
  const ac = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
  }, policy.timeoutMs);
  let current = start;
  try {
    for (let hop = 0; ; hop++) {
      const res = await ky(current, kyOptions(headers, ac.signal, dispatcher));
      if (res.status >= 300 && res.status < 400 && res.status !== 304) {
        await res.body?.cancel().catch(() => undefined);
        const next = redirectTarget(start, current, res, hop);
        if ('ok' in next) return { done: next };
        current = next;
        continue;
      }
      const shown = maskUrl(current);
      if (res.status === 304 && marker !== undefined) {
        await res.body?.cancel().catch(() => undefined);
        return { done: { kind: 'unchanged', marker: res.headers.get('etag') ?? marker } };
      }
      if (res.status >= 200 && res.status < 300) {
        const body = await readCapped(res, policy.maxBytes);
        if (body === null) {
          ac.abort();
          return { done: fail('too_large', `${shown}: the artifact is larger than the ${policy.maxBytes}-byte cap (after decompression)`) };
        }
        return { done: { kind: 'bytes', bytes: body, marker: res.headers.get('etag') ?? undefined } };
      }
      await res.body?.cancel().catch(() => undefined);
      const failure = fail('fetch_status', `${shown} answered HTTP ${res.status}`, res.status);
      return isTransientStatus(res) ? { transient: failure, retryAfterMs: retryAfterMs(res.headers.get('retry-after')) } : { done: failure };
    }
  } catch (err) {
    const shown = maskUrl(current);
    if (hasCode(err, FORBIDDEN_ADDRESS)) {
      return { done: fail('forbidden_address', `${shown}: the host resolves to a link-local address (cloud metadata); refused`) };
    }
    if (timedOut) return { transient: fail('fetch_timeout', `${shown}: no complete answer within ${policy.timeoutMs} ms`) };
    return { transient: fail('fetch_failed', `${shown}: network error (${describe(err)})`) };
  } finally {
    clearTimeout(timer);
  }
}

function kyOptions(headers: Record<string, string>, signal: AbortSignal, dispatcher: Dispatcher): Options {
  return {
    method: 'get',
    headers,
    signal,
    redirect: 'manual',
    cache: 'no-store',
    retry: 0,
    timeout: false,
    throwHttpErrors: false,
    // ky forwards unknown options to fetch. The global fetch accepts an undici 7 dispatcher even
    // though its bundled typings name a different undici version, hence the cast.
    dispatcher: dispatcher as unknown as RequestInit['dispatcher'],
  } as Options;
}

/** Validates one redirect hop: https only, same host (and port), no userinfo, at most 5 hops. */
function redirectTarget(origin: URL, current: URL, res: Response, hop: number): URL | TaskFailure {
  const shown = maskUrl(current);
  if (hop >= MAX_REDIRECTS) return fail('forbidden_redirect', `${shown}: more than ${MAX_REDIRECTS} redirects`);
  const location = res.headers.get('location');
  if (location === null) return fail('fetch_status', `${shown} answered HTTP ${res.status} without a Location`, res.status);
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    return fail('forbidden_redirect', `${shown}: redirect to an unparseable location`);
  }
  // `host` omits default ports, so http://h/ → https://h/ counts as the same host and port.
  if (next.protocol !== 'https:' || next.host !== origin.host || next.username !== '' || next.password !== '') {
    return fail('forbidden_redirect', `${shown}: redirect to ${maskUrl(next)} refused (only https on the same host is followed)`);
  }
  next.hash = '';
  return next;
}

/** The body, or null past the cap. Counting the decoded stream is what defeats gzip bombs. */
async function readCapped(res: Response, cap: number): Promise<Uint8Array | null> {
  const encoding = (res.headers.get('content-encoding') ?? 'identity').trim().toLowerCase();
  const declared = Number(res.headers.get('content-length') ?? '0');
  if (encoding === 'identity' && declared > cap) {
    await res.body?.cancel().catch(() => undefined);
    return null;
  }
  if (res.body === null) return new Uint8Array(0);
  // The global Response's typings leave the chunk type open; fetch bodies are byte streams.
  const reader: ReadableStreamDefaultReader<Uint8Array> = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > cap) {
      await reader.cancel().catch(() => undefined);
      return null;
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** Network-level retries are decided by the caller; these are the retryable statuses. */
function isTransientStatus(res: Response): boolean {
  if (res.status >= 500 || res.status === 429) return true;
  if (res.status !== 403) return false;
  return res.headers.has('retry-after') || res.headers.get('x-ratelimit-remaining')?.trim() === '0';
}

function retryAfterMs(v: string | null): number | undefined {
  if (v === null) return undefined;
  if (/^\d+$/.test(v.trim())) return Number(v.trim()) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

/** Walks `err.cause` (fetch wraps socket errors in a TypeError) looking for a code. */
function hasCode(err: unknown, code: string): boolean {
  for (let e = err, i = 0; e !== null && typeof e === 'object' && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if ((e as { code?: unknown }).code === code) return true;
  }
  return false;
}

function describe(err: unknown): string {
  let e: unknown = err;
  for (let i = 0; i < 5 && e !== null && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    const cause = (e as { cause?: unknown }).cause;
    if (cause === undefined) break;
    e = cause;
  }
  return e instanceof Error ? e.message.slice(0, 120) : 'unknown error';
}

// One connection pool per worker and kind: loopback never goes through a proxy.
let direct: Dispatcher | undefined;
let proxied: Dispatcher | undefined;

function sharedDispatcher(loopback: boolean): Dispatcher {
  const useProxy = !loopback && ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((k) => (process.env[k] ?? '') !== '');
  if (useProxy) return (proxied ??= makeDispatcher(true));
  return (direct ??= makeDispatcher(false));
}

function makeDispatcher(proxy: boolean, resolve?: Resolver): Dispatcher {
  const connect = { lookup: guardedLookup(resolve) };
  // EnvHttpProxyAgent reads HTTPS_PROXY/HTTP_PROXY/NO_PROXY. Behind a proxy the proxy resolves
  // the target, so only literal-IP refusal (checked before connecting) still applies there.
  return proxy ? new EnvHttpProxyAgent({ connect }) : new Agent({ connect });
}
