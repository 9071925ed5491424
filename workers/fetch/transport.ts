/**
 * The transport under every remote source (http, S3, VCS): ky over undici with one connection pool
 * per worker and kind, the link-local guard on every resolved address, HTTPS_PROXY/HTTP_PROXY/
 * NO_PROXY through undici's EnvHttpProxyAgent, same-host https-only redirects and a size cap
 * counted on the decoded body. policy.ts drives attempts, retries and deadlines on top of it.
 */
import type { Options } from 'ky';
import type { Dispatcher } from 'undici';
import { Agent, EnvHttpProxyAgent } from './undici.js';
import type { TaskFailure } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import { maskUrl } from '../../common/display.js';
import { MAX_REDIRECTS } from '../../common/limits.js';
import { guardedLookup, type Resolver } from './address.js';

export function kyOptions(headers: Record<string, string>, signal: AbortSignal, dispatcher: Dispatcher): Options {
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
export function redirectTarget(origin: URL, current: URL, res: Response, hop: number): URL | TaskFailure {
  const shown = maskUrl(current);
  if (hop >= MAX_REDIRECTS) return taskFailure('forbidden_redirect', `${shown}: more than ${MAX_REDIRECTS} redirects`);
  const location = res.headers.get('location');
  if (location === null) return taskFailure('fetch_status', `${shown} answered HTTP ${res.status} without a Location`, res.status);
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    return taskFailure('forbidden_redirect', `${shown}: redirect to an unparseable location`);
  }
  // `host` omits default ports, so http://h/ → https://h/ counts as the same host and port.
  // Credentials (Authorization, PRIVATE-TOKEN, SigV4 headers) therefore never reach another host.
  if (next.protocol !== 'https:' || next.host !== origin.host || next.username !== '' || next.password !== '') {
    return taskFailure('forbidden_redirect', `${shown}: redirect to ${maskUrl(next)} refused (only https on the same host is followed)`);
  }
  next.hash = '';
  return next;
}

/** The body, or null past the cap. Counting the decoded stream is what defeats gzip bombs. */
export async function readCapped(res: Response, cap: number): Promise<Uint8Array | null> {
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

/** Walks `err.cause` (fetch wraps socket errors in a TypeError) looking for a code. */
export function hasCode(err: unknown, code: string): boolean {
  for (let e = err, i = 0; e !== null && typeof e === 'object' && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if ((e as { code?: unknown }).code === code) return true;
  }
  return false;
}

export function describe(err: unknown): string {
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

// One connection pool per worker and kind. Loopback never goes through a proxy: a proxy cannot
// reach the sidecar's own loopback, and local test servers / S3-compatible endpoints on 127.0.0.1
// are meant to be reached directly (NO_PROXY semantics for loopback, as most tools apply).
let direct: Dispatcher | undefined;
let proxied: Dispatcher | undefined;

export function proxyConfigured(): boolean {
  return ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((k) => (process.env[k] ?? '') !== '');
}

/** The worker's pool for a target: direct for loopback hosts, else through the proxy when one is set. */
export function sharedDispatcher(target: { readonly loopback: boolean }): Dispatcher {
  if (!target.loopback && proxyConfigured()) return (proxied ??= proxyDispatcher());
  return (direct ??= directDispatcher());
}

/** True for the worker's proxied pool (messages say a failure happened through the proxy). */
export function isProxied(d: Dispatcher): boolean {
  return d === proxied;
}

/**
 * Ends every request on the worker's proxied pool after one through it timed out, and lets the
 * next fetch build a fresh pool. undici 7's ProxyAgent retries a CONNECT that the proxy closes
 * without answering in a tight loop (thousands of connections a second) that ignores the
 * request's AbortSignal (nodejs/undici#3897; fixed in undici 8, which needs Node ≥ 22.19):
 * only destroying the dispatcher stops it.
 */
export function abandonProxied(d: Dispatcher): void {
  if (d !== proxied) return;
  proxied = undefined;
  void d.destroy().catch(() => undefined);
}

/** Connects to the target itself, through the guarded lookup (`resolve`: tests' own resolver). */
export function directDispatcher(resolve?: Resolver): Dispatcher {
  return new Agent({ connect: { lookup: guardedLookup(resolve) } });
}

/**
 * Connects through the proxy: EnvHttpProxyAgent reads HTTPS_PROXY/HTTP_PROXY/NO_PROXY. Behind a
 * proxy the proxy resolves the target, so only literal-IP refusal (checked before connecting)
 * still applies there.
 */
export function proxyDispatcher(resolve?: Resolver): Dispatcher {
  return new EnvHttpProxyAgent({ connect: { lookup: guardedLookup(resolve) } });
}
