/**
 * Fixed limits: the bounds no setting changes, in one place with the reason for each value. What an
 * operator may change (ports, TTLs, queue and connection caps, deadlines) is a `CLEF_AGENT_*`
 * variable instead, with its default and bounds in the settings table (src/config/variables.ts).
 * Both threads and the tools import from here; nothing here imports anything.
 */

// ── HTTP server (main thread, SPEC §5.1) ─────────────────────────────────────────────────────────

/** Limits that keep a slow, oversized or flooding client from pinning the server. */
export const HTTP_LIMITS = {
  /** To send the request headers: generous for a local client, short for a slowloris. */
  headersTimeoutMs: 10_000,
  /** To send a whole request; ours are bodiless GETs, so this only cuts off a stalled client. */
  requestTimeoutMs: 30_000,
  /** An idle keep-alive connection is closed after this; clients reconnect cheaply over loopback. */
  keepAliveTimeoutMs: 5_000,
  /** Idle sockets are closed after this long without traffic. */
  socketIdleMs: 60_000,
  /** Node's own default header cap; the longest legitimate header is a 1 KiB bearer token. */
  maxHeaderBytes: 16 * 1024,
  /** How often Node enforces the timeouts above; its 30 s default would let headers stay open 40 s. */
  checkIntervalMs: 1_000,
  /** How long a stop waits for in-flight requests before closing their sockets. */
  drainMs: 5_000,
  /** Sockets accepted past CLEF_AGENT_MAX_CONNECTIONS (to answer 429) at least this many… */
  connectionHeadroomMin: 16,
  /** …or 1/this of the cap if more; beyond the headroom the kernel-level accept is refused outright. */
  connectionHeadroomDivisor: 8,
} as const;

/**
 * How many long polls (SPEC §10.2) may be parked at once: CLEF_AGENT_MAX_WAITERS, but never more
 * than CLEF_AGENT_MAX_CONNECTIONS less 1/16 of it (at least one). A parked long poll holds its
 * connection, and the connection cap answers 429 before anything else, probes included: with both
 * settings at their default 1024, long polls alone could otherwise take every connection and leave
 * `/v1/health`, `/v1/ready` and `clef-agent check` answering 429. 1024 connections leave 960 to
 * long polls; a cap of 1 leaves none (every `?wait` that would park gets 503 `overloaded`).
 */
export function longPollLimit(maxWaiters: number, maxConnections: number): number {
  return Math.max(0, Math.min(maxWaiters, maxConnections - Math.max(1, Math.ceil(maxConnections / 16))));
}

/**
 * Connections the operations listener (CLEF_AGENT_OPS_ADDR) serves at once: probes and scrapes
 * need a handful, and it may face the pod network, so a flood there is cut off far sooner.
 */
export const OPS_MAX_CONNECTIONS = 64;

// ── Lifecycle and worker pool (main thread) ──────────────────────────────────────────────────────

/** Upper bound on a graceful stop (drain + pool shutdown + log flush); past it the process exits non-zero. */
export const STOP_DEADLINE_MS = 15_000;

/** Tasks a worker holds at once: network waits (KMS, fetches) overlap, and a stuck task strands few others. */
export const TASKS_PER_WORKER = 4;

/**
 * Cached mode: a worker idle this long exits, and the next poll starts one again. Requests never
 * wait for a worker in cached mode, so only the refresh pays the start (~0.1 s of CPU for a file
 * source, ~0.25 s over HTTP) while the pod keeps ~10-25 MiB less for most of every poll interval
 * (bench/README.md "Footprint"). Longer than the start-up's back-to-back tasks, so the first load
 * reuses the worker that proved the key.
 */
export const IDLE_WORKER_EXIT_MS = 5_000;

/**
 * Each worker's V8 young generation, in MiB (`resourceLimits.maxYoungGenerationSizeMb`). A JIT
 * worker allocates a plaintext and a body per request and keeps neither, so a small nursery only
 * means more, cheaper scavenges: JIT 1000 keys peaked ~14 MiB lower (180 instead of 195 MiB) at the
 * same req/s; 8 MiB measured the same as the default (bench/README.md "Footprint").
 */
export const WORKER_YOUNG_GENERATION_MB = 4;

// ── Refresh (main thread, SPEC §4) ───────────────────────────────────────────────────────────────

/** Never poll more often than this (SPEC §4.1); also the floor of CLEF_AGENT_POLL_INTERVAL. */
export const MIN_POLL_SECONDS = 5;

/** A poll comes at this fraction of the time left to `expiresAt` when sooner (SPEC §4.1): room for one retry. */
export const POLL_BEFORE_EXPIRY_FRACTION = 0.8;

/**
 * How far an artifact's `packedAt` may be ahead of the agent's clock (SPEC §4.3 step 7): enough
 * for ordinary clock drift between the packing machine and the agent; more would let one artifact
 * raise the rollback floor so far that every normal artifact after it is refused. `pack` holds
 * `--packed-at` to the same bound.
 */
export const PACKED_AT_MAX_AHEAD_MS = 5 * 60_000;

/** First-load attempts before start-up gives up (SPEC §4.2). */
export const STARTUP_ATTEMPTS = 3;

/** Delay before the second first-load attempt, doubled for each later one (SPEC §4.2). */
export const STARTUP_BACKOFF_BASE_MS = 500;

/** One fetch attempt of a load: a healthy source answers in well under a second. */
export const FETCH_TIMEOUT_MS = 10_000;

/** Retries within one load (three attempts in all); the poll schedule sits above them. */
export const FETCH_RETRIES = 2;

/** A whole load: three fetch attempts with their timeouts and backoff, plus decryption. */
export const LOAD_DEADLINE_MS = 60_000;

/** The longest delay Node timers accept (about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

// ── Lambda extension (main thread, SPEC §6) ──────────────────────────────────────────────────────

/**
 * Lambda gives the whole init phase (every extension and the function's own init) 10 s. The first
 * load's three attempts, with their backoff, must end well inside it, so a broken source is reported
 * through `/init/error` instead of Lambda killing the sandbox: 3 × 2 s + 0.25 s + 0.5 s = 6.75 s at
 * worst, leaving ~3 s for the process start, the first worker and the registration. INVOKE
 * refreshes use the same bounds: the function is served from the snapshot meanwhile, but the
 * invocation is not over (nor billed as over) until the extension asks for the next event.
 */
export const LAMBDA_LIMITS = {
  startupAttempts: 3,
  startupBackoffBaseMs: 250,
  /** A whole load (fetch, validate, decrypt): a KMS Decrypt answers in tens of ms. */
  loadDeadlineMs: 2_000,
  /** One fetch attempt; with one retry and its ~0.2 s backoff, inside the load's deadline. */
  fetchTimeoutMs: 1_500,
  fetchRetries: 1,
  /** Kept between SHUTDOWN's `deadlineMs` and the exit: the log flush and process teardown. */
  shutdownMarginMs: 300,
  /** The telemetry flush after a failed init, at most: the init budget is nearly spent by then. */
  initErrorFlushMaxMs: 1_000,
} as const;

// ── Serving (main thread) ────────────────────────────────────────────────────────────────────────

/** One failure log line per reason per window; the rest are counted into the next line (a KMS outage fails every request). */
export const FAILURE_LOG_WINDOW_MS = 10_000;

/**
 * JIT requests one worker task may carry (src/serving/jit-batch.ts). A batch saves one pool round
 * trip and worker wake-up per request after the first, so past 8 the saving per request is under
 * an eighth of one round trip, while the batch's last request waits for every decryption ahead of
 * it in that worker (a worker holds TASKS_PER_WORKER batches). Small, so batch latency stays close
 * to a single request's.
 */
export const JIT_BATCH_MAX = 8;

/**
 * JIT response bodies kept for reuse, per thread (src/serving/spare-bodies.ts on the main thread,
 * workers/spares.ts in each worker). A written body goes back to a worker, zeroed, to decrypt the
 * next one into, instead of becoming garbage the main thread's GC finds only under external-memory
 * pressure (JIT 1000 keys: a mark-compact every ~0.4 s and tens of MiB of dead bodies in RSS). A
 * full closed loop of 32 clients × 50 KB bodies needs ~1.6 MB; a body larger than the cap is never
 * kept, so huge payloads allocate as before, and at most this much stays allocated after a burst.
 */
export const SPARE_BODY_BYTES = 4 * 1024 * 1024;

/**
 * Smaller bodies are not kept: moving a buffer costs the main thread about as much per request as
 * collecting a small one does, and small bodies barely count towards external-memory pressure.
 */
export const SPARE_BODY_MIN_BYTES = 8 * 1024;

/** How long a cached-mode request waits for the one refresh it may trigger after the TTL ran out. */
export const REQUEST_REFRESH_DEADLINE_MS = 3_000;

// ── Change notification (main thread, SPEC §10.2) ────────────────────────────────────────────────

/** `?wait=<seconds>` bounds: whole seconds, so a deadline needs no finer timer than the wheel's. */
export const LONG_POLL_MIN_SECONDS = 1;
export const LONG_POLL_MAX_SECONDS = 300;

/**
 * Long-poll deadlines fall into buckets this wide, behind one shared timer: a waiter is answered at
 * most this much after its deadline, and a thousand waiters cost one timer, not a thousand.
 */
export const LONG_POLL_BUCKET_MS = 250;

/**
 * Entity tags kept per revision (the hot path looks a tag up instead of hashing). `/v1/secrets/:key`
 * tags are keyed by the name the client sent, so a client walking many names is bounded here: past
 * this many, the cache starts over.
 */
export const ETAG_CACHE_ENTRIES = 4096;

// ── Fetching (workers) ───────────────────────────────────────────────────────────────────────────

/** A server asking for a longer wait than this is not retried within the load (the next poll is). */
export const MAX_RETRY_AFTER_MS = 5_000;

/** First retry backoff, doubled per attempt (200 ms, 400 ms, …): short, the load's deadline sits above. */
export const FETCH_BACKOFF_BASE_MS = 200;

/** Random extra backoff, so agents that failed together do not retry in lockstep. */
export const FETCH_BACKOFF_JITTER_MS = 100;

/** Redirects followed per fetch (same host only): enough for a moved path, few enough to stop a loop. */
export const MAX_REDIRECTS = 5;

/** How long a Bitbucket repository's main branch name is remembered: it rarely changes, and each lookup is an API call. */
export const MAIN_BRANCH_TTL_MS = 10 * 60_000;

/** One credential exchange (STS for a web identity, SSO): a sick endpoint fails the attempt. */
export const CREDENTIAL_EXCHANGE_LIMITS = { connectionTimeoutMs: 2_000, requestTimeoutMs: 5_000 } as const;

/**
 * Bounds of one KMS call. KMS answers in tens of ms; these only cut off a sick endpoint.
 * Two attempts × 1.5 s plus the SDK's throttling backoff (≤ 1 s) stays under the whole-call
 * bound, which stays under the default JIT request deadline (CLEF_AGENT_DECRYPT_TIMEOUT_MS, 5 s).
 */
export const KMS_LIMITS = {
  /** Total attempts (1 retry): transient failures get one more try, and no retry storm. */
  maxAttempts: 2,
  /** To connect; through a proxy, to reach it and get its answer to CONNECT (the tunnel is closed past it). */
  connectionTimeoutMs: 1_000,
  /** Per attempt, headers and body; includes the connection phase (and the TLS handshake in a tunnel). */
  requestTimeoutMs: 1_500,
  /** The whole call, retries and backoff included (an AbortSignal). */
  totalMs: 4_000,
} as const;

/**
 * `POST /v1/refresh` (SPEC §10.5): at most one accepted per this interval, whoever asks. A refresh
 * is a fetch from the source (and maybe a KMS call); a client looping on it must not turn the agent
 * into a load generator against the source, and the poll already refreshes every few seconds.
 */
export const MANUAL_REFRESH_INTERVAL_MS = 5_000;

// ── Disk cache and keys (workers) ────────────────────────────────────────────────────────────────

/** A disk cache metadata file bigger than this is not ours: it holds a few short fields. */
export const META_MAX_BYTES = 16 * 1024;

/** A cached fetch time further in the future than this is not a clock skew but a bad file. */
export const FUTURE_SKEW_MS = 5 * 60_000;

/**
 * Default of CLEF_AGENT_MAX_KEYS, here because workers need it when no setting is passed (tests,
 * tools). Far above real secret sets (hundreds of keys), far below the ~400 000 a 7 MB artifact can
 * hold, whose cached snapshot took ~800 MB of memory.
 */
export const DEFAULT_MAX_KEYS = 100_000;

/** Parsed verify keys kept per worker: a worker sees one key in practice, the cap only bounds misuse. */
export const KEY_CACHE_MAX = 4;

// ── Tools ────────────────────────────────────────────────────────────────────────────────────────

/** `clef-agent pack`: reaching a proxy and its answer to CONNECT, so a stalled proxy fails the run instead of hanging it. */
export const PROXY_CONNECT_TIMEOUT_MS = 10_000;
