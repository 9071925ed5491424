/**
 * The one fetch policy every remote source goes through (SPEC §4.1, §4.2, §5.1):
 * plain-http and link-local refusal, a per-attempt deadline covering headers and body, conditional
 * GET with the change marker (`If-None-Match`; 304 → unchanged), a size cap after decompression,
 * same-host https-only redirects, and retries with backoff and jitter for transient failures only.
 *
 * Rate limits are respected rather than hammered: a 429, or a 403 that carries `Retry-After` or
 * `x-ratelimit-remaining: 0`, is retried only when the server's requested wait is short
 * (≤ MAX_RETRY_AFTER_MS); a longer one fails the attempt at once and the poll schedule comes back.
 *
 * ky is the request layer; retries, timeouts and redirects are driven here rather than by ky,
 * because the rules (rate-limit 403s, a deadline that also covers the body, per-hop redirect
 * checks) are stricter than what its options express.
 */
import { retryAfterMs } from '../../common/retry-after.js';
import ky from 'ky';
import type { Dispatcher } from 'undici';
import type { FetchPolicy, TaskFailure } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import { maskUrl } from '../../common/display.js';
import { isLoopbackHost, isPlainRemoteHttp, literalIp } from '../../common/net.js';
import { urlCarriesCredentials } from '../../common/url-credentials.js';
import { FETCH_BACKOFF_BASE_MS, FETCH_BACKOFF_JITTER_MS, MAX_RETRY_AFTER_MS } from '../../common/limits.js';
import { FORBIDDEN_ADDRESS, isForbiddenAddress, type Resolver } from './address.js';
import { abandonProxied, describe, hasCode, isProxied, kyOptions, directDispatcher, readCapped, redirectTarget, sharedDispatcher } from './transport.js';
import type { FetchOutcome } from './types.js';

export interface HttpDeps {
  /** DNS resolver behind the link-local guard (tests inject one). */
  readonly resolve?: Resolver | undefined;
  /** Backoff sleeper (tests may shorten it). */
  readonly sleep?: ((ms: number) => Promise<void>) | undefined;
}

export interface PolicyRequest {
  /** Request URL without userinfo or fragment. */
  readonly url: URL;
  /**
   * Headers the source adds: its credentials (Authorization, tokens, SigV4) and what its API needs.
   * Any header here makes the request count as credentialed for the plain-http rule. They go only
   * to this host (redirects never leave it).
   */
  readonly headers: Readonly<Record<string, string>>;
  /** The source as configured, masked, for the pre-connect refusals (default: the masked URL). */
  readonly label?: string | undefined;
  /** Hint appended to the plain-http refusal (which setting lifts it). */
  readonly httpHint?: string | undefined;
}

/** One attempt's verdict: `transient` failures may be retried by the caller. */
type Attempt = { readonly done: FetchOutcome | TaskFailure } | { readonly transient: TaskFailure; readonly retryAfterMs?: number | undefined };

export async function fetchWithPolicy(
  req: PolicyRequest,
  policy: FetchPolicy,
  marker: string | undefined,
  deps: HttpDeps = {},
): Promise<FetchOutcome | TaskFailure> {
  const url = req.url;
  const shown = req.label ?? maskUrl(url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return taskFailure('insecure_source', `${shown}: only http(s) URLs are supported`);
  if (!policy.allowHttp && isPlainRemoteHttp(url)) {
    // A verify key vouches for the artifact, never for credentials on the wire.
    const credentials = Object.keys(req.headers).length > 0 || urlCarriesCredentials(url);
    if (credentials || policy.allowHttpWithoutCredentials !== true) {
      const hint = credentials
        ? 'the request carries credentials: set CLEF_AGENT_ALLOW_HTTP=true; a verify key protects the artifact, not the credentials'
        : 'set CLEF_AGENT_VERIFY_KEY or CLEF_AGENT_ALLOW_HTTP=true';
      return taskFailure('insecure_source', `${shown}: plain http to a non-loopback host is refused (${req.httpHint ?? hint})`);
    }
  }
  const ip = literalIp(url.hostname);
  if (ip !== null && isForbiddenAddress(ip)) return taskFailure('forbidden_address', `${shown}: link-local addresses (cloud metadata) are never fetched`);

  const headers: Record<string, string> = { accept: 'application/json, */*;q=0.5', 'user-agent': 'clef-agent', ...req.headers };
  if (marker !== undefined) headers['if-none-match'] = marker;

  const own = deps.resolve !== undefined ? directDispatcher(deps.resolve) : undefined;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  try {
    for (let attempt = 0; ; attempt++) {
      // Per attempt: a timed-out proxied pool is abandoned (transport.ts), the next one is fresh.
      const dispatcher = own ?? sharedDispatcher({ loopback: isLoopbackHost(url.hostname) });
      const r = await attemptOnce(url, headers, policy, marker, dispatcher);
      if ('done' in r) return r.done;
      if (attempt >= policy.retries) return r.transient;
      if (r.retryAfterMs !== undefined && r.retryAfterMs > MAX_RETRY_AFTER_MS) return r.transient;
      // Short exponential backoff with jitter (200 ms, 400 ms, …), stretched to a short
      // Retry-After; the whole-load retries of §4.2 and the poll schedule sit above this.
      const backoff = FETCH_BACKOFF_BASE_MS * 2 ** attempt + Math.floor(Math.random() * FETCH_BACKOFF_JITTER_MS);
      await sleep(Math.max(backoff, r.retryAfterMs ?? 0));
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
  const viaProxy = isProxied(dispatcher);
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort();
    // The abort alone does not stop undici's CONNECT retry loop (transport.ts).
    abandonProxied(dispatcher);
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
          return { done: taskFailure('too_large', `${shown}: the artifact is larger than the ${policy.maxBytes}-byte cap (after decompression)`) };
        }
        const contentType = res.headers.get('content-type') ?? undefined;
        return { done: { kind: 'bytes', bytes: body, marker: res.headers.get('etag') ?? undefined, contentType } };
      }
      await res.body?.cancel().catch(() => undefined);
      if (!isTransientStatus(res)) return { done: taskFailure('fetch_status', `${shown} answered HTTP ${res.status}`, res.status) };
      const wait = rateLimitWaitMs(res.headers);
      const note = wait === undefined ? '' : ` (rate limited; the server asks to wait ${Math.ceil(wait / 1000)} s)`;
      return { transient: taskFailure('fetch_status', `${shown} answered HTTP ${res.status}${note}`, res.status), retryAfterMs: wait };
    }
  } catch (err) {
    const shown = maskUrl(current);
    if (hasCode(err, FORBIDDEN_ADDRESS)) {
      return { done: taskFailure('forbidden_address', `${shown}: the host resolves to a link-local address (cloud metadata); refused`) };
    }
    if (timedOut) {
      const where = viaProxy ? ' through the proxy (HTTPS_PROXY/HTTP_PROXY)' : '';
      return { transient: taskFailure('fetch_timeout', `${shown}: no complete answer within ${policy.timeoutMs} ms${where}`) };
    }
    return { transient: taskFailure('fetch_failed', `${shown}: network error (${describe(err)})`) };
  } finally {
    clearTimeout(timer);
  }
}

/** Network-level retries are decided by the caller; these are the retryable statuses. */
function isTransientStatus(res: Response): boolean {
  if (res.status >= 500 || res.status === 429) return true;
  if (res.status !== 403) return false;
  return res.headers.has('retry-after') || rateLimitExhausted(res.headers);
}

function rateLimitExhausted(h: Headers): boolean {
  return (h.get('x-ratelimit-remaining') ?? h.get('ratelimit-remaining'))?.trim() === '0';
}

/**
 * How long the server asks us to wait: `Retry-After` (seconds or an HTTP date), else — when the
 * quota is exhausted — the reset header: GitHub's `x-ratelimit-reset` and GitLab's `RateLimit-Reset`
 * are epoch seconds; the IETF draft's `RateLimit-Reset` is delta seconds (small numbers).
 */
function rateLimitWaitMs(h: Headers, nowMs = Date.now()): number | undefined {
  const ra = retryAfterMs(h.get('retry-after') ?? undefined, nowMs);
  if (ra !== undefined) return ra;
  if (!rateLimitExhausted(h)) return undefined;
  const reset = (h.get('x-ratelimit-reset') ?? h.get('ratelimit-reset'))?.trim();
  if (reset === undefined || !/^\d+$/.test(reset)) return undefined;
  const n = Number(reset);
  return Math.max(0, n > 1e9 ? n * 1000 - nowMs : n * 1000);
}
