/**
 * `watch()`: the whole payload once, then again on every new revision, built on the agent's
 * long-poll (SPEC §10.2): `GET /v1/secrets?wait=<s>` with `If-None-Match: <etag>` is answered
 * `200` when the revision changes and `304` when the wait ends. One request is outstanding at a
 * time and none is made between changes. Failures (the agent restarting, 503 while it reloads)
 * are retried with capped exponential backoff and jitter; after a restart the same artifact keeps
 * its ETag, so the callback is not called again for it.
 */
import { ClefAgentError } from './errors.js';
import { answerError, type Answer } from './transport.js';

export interface WatchOptions {
  /** Seconds each long-poll may wait (1-300, the agent's range; default 60). */
  readonly waitSeconds?: number;
  /** Hears every failure before the retry; the watch goes on. */
  readonly onError?: (error: ClefAgentError) => void;
  /** Stops the watch when aborted (like `stop()`). */
  readonly signal?: AbortSignal;
  /** Longest pause between retries (default 30 000 ms). */
  readonly maxBackoffMs?: number;
}

export interface Watcher {
  /** Ends the watch: the outstanding request is aborted, no callback follows. Resolves once it has ended. */
  stop(): Promise<void>;
}

/** What watch needs from the client: authenticated GETs, and the payload check. */
export interface WatchDeps<S> {
  request(path: string, headers: Record<string, string>, timeoutMs: number, signal: AbortSignal): Promise<Answer>;
  parse(body: Buffer): S;
  readonly timeoutMs: number;
}

const DEFAULT_WAIT_SECONDS = 60;
const MIN_BACKOFF_MS = 250;
const DEFAULT_MAX_BACKOFF_MS = 30_000;
/** Beyond the wait, how long a long-poll may take before the client gives up on it. */
const WAIT_GRACE_MS = 15_000;

export function startWatch<S>(callback: (secrets: S) => void | Promise<void>, o: WatchOptions, deps: WatchDeps<S>): Watcher {
  const wait = o.waitSeconds ?? DEFAULT_WAIT_SECONDS;
  if (!Number.isInteger(wait) || wait < 1 || wait > 300) throw new TypeError('clef-agent client: waitSeconds must be an integer from 1 to 300');
  const maxBackoffMs = o.maxBackoffMs ?? DEFAULT_MAX_BACKOFF_MS;
  const stopper = new AbortController();
  const signal = stopper.signal;
  const onOuterAbort = (): void => stopper.abort();
  if (o.signal?.aborted === true) stopper.abort();
  else o.signal?.addEventListener('abort', onOuterAbort, { once: true });

  const report = (err: unknown): void => {
    if (signal.aborted) return;
    const e =
      err instanceof ClefAgentError
        ? err
        : new ClefAgentError(`watch(): ${(err as Error)?.message ?? String(err)}`, { status: 0, reason: 'bad_response', cause: err });
    try {
      o.onError?.(e);
    } catch {
      // An error handler that throws must not end the watch.
    }
  };

  const loop = async (): Promise<void> => {
    let etag: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const first = etag === undefined;
        const startedAt = Date.now();
        const a = await deps.request(
          first ? '/v1/secrets' : `/v1/secrets?wait=${wait}`,
          first ? {} : { 'if-none-match': etag ?? '' },
          first ? deps.timeoutMs : wait * 1000 + WAIT_GRACE_MS,
          signal,
        );
        if (a.status === 304 && !first) {
          failures = 0;
          // An agent that answers at once instead of waiting would make this a busy loop: pace it.
          if (Date.now() - startedAt < (wait * 1000) / 2) await pause(backoff(1, maxBackoffMs), signal);
          continue;
        }
        if (a.status !== 200) throw answerError('watch()', a);
        const tag = a.headers.etag;
        if (typeof tag !== 'string' || tag === '') {
          throw new ClefAgentError('watch(): the agent sent no ETag; it does not support change notification (SPEC §10.2) and needs an upgrade', {
            status: 200,
            reason: 'bad_response',
          });
        }
        const secrets = deps.parse(a.body);
        failures = 0;
        if (tag === etag) {
          await pause(backoff(1, maxBackoffMs), signal);
          continue;
        }
        etag = tag;
        if (signal.aborted) break;
        try {
          await callback(secrets);
        } catch (err) {
          report(err);
        }
      } catch (err) {
        if (signal.aborted) break;
        report(err);
        failures++;
        await pause(backoff(failures, maxBackoffMs), signal);
      }
    }
  };
  const done = loop().finally(() => o.signal?.removeEventListener('abort', onOuterAbort));
  return {
    stop: () => {
      stopper.abort();
      return done;
    },
  };
}

/** Capped exponential backoff with ±20 % jitter, so clients restarted together do not retry together. */
function backoff(failures: number, maxMs: number): number {
  const base = Math.min(maxMs, MIN_BACKOFF_MS * 2 ** Math.min(failures - 1, 20));
  return Math.round(base * (0.8 + Math.random() * 0.4));
}

/** Sleeps `ms`, or less when `signal` aborts. */
function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
