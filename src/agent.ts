import type { ArtifactMeta, LoadResult, TelemetryCredentials } from '../common/protocol.js';
import type { Config } from './config/types.js';
import { TokenGuard } from './http/auth.js';
import { ChangeNotifier } from './http/notify.js';
import { startServer } from './http/server.js';
import { prepareListen } from './http/listener.js';
import { SocketError } from './http/unix-socket.js';
import type { Logger } from './log.js';
import { agentPool, type WorkerPool } from './pool.js';
import { DAEMON_REFRESH_LIMITS, Refresher } from './refresh/refresher.js';
import { LAMBDA_LIMITS, longPollLimit, OPS_MAX_CONNECTIONS, STARTUP_ATTEMPTS, STARTUP_BACKOFF_BASE_MS } from '../common/limits.js';
import type { OpsServer } from './http/ops-server.js';
import { realTimers, type Clock } from './refresh/timers.js';
import type { AgentMetrics } from './telemetry/metrics.js';
import type { Family } from './telemetry/cells.js';
import { invokeRefreshDue, startupBackoffMs } from './refresh/schedule.js';
import { CachedMode } from './serving/cached.js';
import { FailureLog } from './serving/failure-log.js';
import { JitMode } from './serving/jit.js';
import { StartupError, startupHint } from './startup.js';
import { Events, type EventName } from './telemetry/events.js';
import type { Body } from './serving/mode.js';
import { Reloader } from './lifecycle/reload.js';
import { OnDemandRefresh } from './refresh/on-demand.js';

export interface AgentHandle {
  /** The API's URL and port; `''` and 0 when started with `listen: false` (exec mode without `--serve`) or `CLEF_AGENT_PORT=off`. */
  readonly url: string;
  readonly port: number;
  /** The Unix socket the API also listens on (CLEF_AGENT_SOCKET). */
  readonly socketPath?: string | undefined;
  /** Resolves once the first artifact is verified and decrypted; rejects with a StartupError. */
  readonly loaded: Promise<void>;
  /** Stop polling and accepting, drain, destroy the pool, drop every secret. Idempotent. */
  close(): Promise<void>;
  /** The worker pool (diagnostics and fault drills; requests never go through it directly). */
  readonly pool: WorkerPool;
  /** The artifact being served, if any (identity and environment for telemetry). */
  meta(): ArtifactMeta | undefined;
  /** The telemetry credentials of the first load, handed over once. */
  takeTelemetryCredentials(): TelemetryCredentials | undefined;
  /** The metric families and when counting began, for OTLP export; absent when metrics are off. */
  readonly metrics?: { readonly families: readonly Family[]; readonly startedAtMs: number } | undefined;
  /** The operations listener's port, when CLEF_AGENT_OPS_ADDR is set. */
  readonly opsPort?: number | undefined;
  /**
   * The whole payload as `GET /v1/secrets` answers it, read through the serving mode on the main
   * thread (exec mode builds the child's environment from it): the cached snapshot's body, or in
   * JIT mode one worker decryption. Call `release` once read (JIT: zeroes the body). Throws an
   * ApiError when nothing is servable (revoked, expired, TTL ran out).
   */
  secrets(): Body | Promise<Body>;
  /** The one event emitter: new revisions, revocation and expiry are observed here. */
  readonly events: Events;
  /**
   * Lambda INVOKE (SPEC §6): refresh when one is due (`invokeRefreshDue`), while requests keep being
   * served from the last good snapshot; resolves with the refresh's result, or undefined when none
   * was due. A failed refresh is a result (`ok: false`), not a rejection.
   */
  invoke(): Promise<LoadResult | undefined>;
  /**
   * SIGHUP (SPEC §10.5): re-read the token, scoped-tokens and age key files (all or nothing), then
   * refresh now. Resolves with whether the new values took effect, once the refresh is done.
   */
  reload(): Promise<boolean>;
}

export interface AgentDeps {
  readonly log: Logger;
  readonly clock?: Clock;
  readonly events?: Events;
  /** Start the HTTP API (default). Exec mode without `--serve` passes false: no API listener at all. */
  readonly listen?: boolean;
  /**
   * Run as a Lambda extension (SPEC §6): no poll timer (the sandbox is frozen between invocations;
   * `invoke()` refreshes instead), first-load attempts and refreshes bounded to fit Lambda's init
   * budget, and workers kept between invocations (a refresh never waits for one to start).
   */
  readonly lambda?: boolean;
  /**
   * The pool, already started from this configuration (`agentPool`; src/cli/early-start.ts starts
   * it before the rest of the agent loads). Absent: started here. Either way the agent owns it from
   * here on and destroys it on every failed start and on close.
   */
  readonly pool?: WorkerPool | undefined;
}

/**
 * Wire the agent together. Order matters: the key is proven before anything listens; the server
 * listens before the first load so probes see `/v1/ready` 503 (SPEC §4.2); polling starts only
 * after the first successful load.
 */
export async function startAgent(config: Config, deps: AgentDeps): Promise<AgentHandle> {
  const { log } = deps;
  const clock = deps.clock ?? Date.now;

  // prom-client and the metric definitions are loaded only for the operations listener or OTLP metrics.
  const startedAtMs = clock();
  const wantMetrics = config.opsAddr !== undefined || config.telemetry?.metricsUrl !== undefined;
  const metrics: AgentMetrics | undefined = wantMetrics ? new (await import('./telemetry/metrics.js')).AgentMetrics() : undefined;
  const pool = deps.pool ?? agentPool(config, { lambda: deps.lambda });
  if (metrics !== undefined) pool.measure(metrics);
  const mode =
    config.cacheTtl === 0
      ? new JitMode(pool, config.maxStale, config.decryptTimeoutMs, clock, new FailureLog(log), metrics)
      : new CachedMode(config.cacheTtl, clock);
  const events = deps.events ?? new Events(log);
  const refresher = new Refresher(pool, config, mode, log, clock, realTimers, metrics, events, deps.lambda === true ? LAMBDA_LIMITS : DAEMON_REFRESH_LIMITS);
  mode.attach(refresher);
  // Long-poll waiters (SPEC §10.2) are woken by what changes an answer: a new artifact, a revocation,
  // an expiry, the cache TTL running out. Each re-checks the state before it is answered.
  const notify = new ChangeNotifier({ mode, maxWaiters: longPollLimit(config.maxWaiters, config.maxConnections), clock, timers: realTimers });
  events.observe((name) => {
    if (WAKE_EVENTS.has(name)) notify.changed();
  });
  metrics?.bind({
    mode: mode.name,
    pool,
    status: refresher.status,
    ready: () => mode.ready(),
    // KMS-gated JIT artifacts have no age limit (each request's Decrypt is the proof).
    freshnessSeconds: () =>
      mode.name === 'cached' ? config.cacheTtl : refresher.status.meta?.encryption === 'kms' ? Number.POSITIVE_INFINITY : config.maxStale,
    clock,
    waiters: () => notify.waiters.size,
  });

  if (config.ageKey) {
    const checked = pool.run({ type: 'checkKey' });
    // The worker may still be starting: the main thread has nothing else to do meanwhile.
    if (deps.listen !== false) prepareListen();
    const key = await checked;
    if (!key.ok) {
      await pool.destroy();
      metrics?.close();
      throw new StartupError(key.message, 2);
    }
  }

  // Before anything listens or loads: a rollback floor or revocation from an earlier run must apply.
  const stateProblem = await refresher.restoreState();
  if (stateProblem !== undefined) {
    await pool.destroy();
    metrics?.close();
    throw new StartupError(stateProblem, 2);
  }

  const guard = new TokenGuard(config.token, config.scopedTokens ?? []);
  const reloader = new Reloader({ config, guard, pool, refresher, log });
  const onDemand = new OnDemandRefresh(refresher, log, clock);
  let server: { readonly url: string; readonly port: number; readonly socketPath?: string | undefined; close(): Promise<void> } = NO_SERVER;
  if (deps.listen !== false)
    try {
      const running = await startServer({
        port: config.port,
        socket: config.socket,
        maxConnections: config.maxConnections,
        mode,
        notify,
        guard,
        log,
        metrics: metrics?.forListener('api'),
        refresh: (principal) => onDemand.request(principal.name),
      });
      for (const w of running.warnings) log.warn({ event: 'socket.warning' }, w);
      server = running;
    } catch (err) {
      await pool.destroy();
      metrics?.close();
      if (err instanceof SocketError) throw new StartupError(`cannot listen on the Unix socket (CLEF_AGENT_SOCKET): ${err.message}`);
      const code = (err as NodeJS.ErrnoException).code;
      throw new StartupError(
        `cannot listen on 127.0.0.1:${String(config.port)}: ${code ?? 'error'}${code === 'EADDRINUSE' ? ' (the port is in use; set CLEF_AGENT_PORT)' : ''}`,
      );
    }
  if (server !== NO_SERVER) {
    const where = [server.url, server.socketPath === undefined ? '' : `unix:${server.socketPath}`].filter((w) => w !== '').join(' and ');
    const tcp = server.url === '' ? {} : { address: '127.0.0.1', port: server.port, url: server.url };
    log.info({ event: 'listening', ...tcp, ...(server.socketPath === undefined ? {} : { socket: server.socketPath }) }, `listening on ${where}`);
  }

  let ops: OpsServer | undefined;
  if (config.opsAddr !== undefined && metrics !== undefined) {
    const { host, port } = config.opsAddr;
    try {
      const { startOpsServer } = await import('./http/ops-server.js');
      ops = await startOpsServer({
        host,
        port,
        maxConnections: OPS_MAX_CONNECTIONS,
        mode,
        scrape: () => metrics.text(),
        metrics: metrics.forListener('ops'),
        log,
      });
    } catch (err) {
      await server.close();
      await pool.destroy();
      metrics.close();
      const code = (err as NodeJS.ErrnoException).code;
      throw new StartupError(
        `cannot listen on ${host.includes(':') ? `[${host}]` : host}:${port} (CLEF_AGENT_OPS_ADDR): ${code ?? 'error'}${code === 'EADDRINUSE' ? ' (the port is in use)' : code === 'EADDRNOTAVAIL' ? ' (no interface has this address)' : ''}`,
      );
    }
    log.info({ event: 'ops.listening', address: host, port: ops.port }, `operations listener (health, ready, metrics) on ${host}:${ops.port}`);
  }

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      refresher.stop();
      // Parked long polls are answered first: the drain below waits for in-flight requests.
      notify.close();
      await Promise.all([server.close(), ops?.close()]);
      metrics?.close();
      await refresher.flushState();
      await pool.destroy();
      mode.close();
      if (config.ageKey?.kind === 'inline') config.ageKey.sealed.wipe();
    })();
    return closing;
  };

  const attempts = deps.lambda === true ? { count: LAMBDA_LIMITS.startupAttempts, backoffBaseMs: LAMBDA_LIMITS.startupBackoffBaseMs } : DAEMON_ATTEMPTS;
  const loaded = firstLoad(refresher, config, log, () => closing !== undefined, attempts).then(() => {
    if (closing) return;
    const meta = refresher.status.meta;
    events.emit(
      'agent.started',
      { mode: config.cacheTtl === 0 ? 'jit' : 'cached', port: server.port, revision: meta?.revision, source: config.sourceLabel },
      'agent started: serving secrets',
    );
    if (deps.lambda !== true) refresher.startPolling();
  });
  // The caller decides what a failed first load means (the CLI exits); avoid an unhandled rejection meanwhile.
  loaded.catch(() => undefined);
  return {
    url: server.url,
    port: server.port,
    socketPath: server.socketPath,
    loaded,
    close,
    pool,
    meta: () => refresher.status.meta,
    takeTelemetryCredentials: () => refresher.takeTelemetryCredentials(),
    metrics: metrics === undefined ? undefined : { families: metrics.families, startedAtMs },
    opsPort: ops?.port,
    secrets: () => mode.secrets(),
    events,
    reload: () => (closing !== undefined ? Promise.resolve(false) : reloader.reload()),
    invoke: async () => {
      const s = refresher.status;
      const due = invokeRefreshDue({
        jit: mode.name === 'jit',
        nowMs: clock(),
        lastAttemptAtMs: s.lastAttemptAt,
        pollIntervalSeconds: config.pollInterval,
        expiresAtMs: s.meta?.expiresAtMs,
      });
      if (!due || closing !== undefined) return undefined;
      return refresher.refresh('invoke');
    },
  };
}

/** The events after which a parked long poll may have another answer (SPEC §10.2). */
const WAKE_EVENTS: ReadonlySet<EventName> = new Set<EventName>(['artifact.refreshed', 'artifact.revoked', 'artifact.expired', 'cache.expired']);

/** Stands in for the API server when the agent does not listen (exec mode without `--serve`). */
const NO_SERVER = { url: '', port: 0, close: (): Promise<void> => Promise.resolve() };

const DAEMON_ATTEMPTS = { count: STARTUP_ATTEMPTS, backoffBaseMs: STARTUP_BACKOFF_BASE_MS };

/** Up to 3 attempts of the whole load with exponential backoff, whatever the failure (SPEC §4.2). */
async function firstLoad(
  refresher: Refresher,
  config: Config,
  log: Logger,
  stopping: () => boolean,
  attempts: { readonly count: number; readonly backoffBaseMs: number },
): Promise<void> {
  let last: LoadResult | undefined;
  const of = attempts.count;
  for (let attempt = 1; attempt <= of; attempt++) {
    const wait = startupBackoffMs(attempt, attempts.backoffBaseMs);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    // Stopped during start-up: no more attempts (the stop itself decides the exit code).
    if (stopping()) return;
    last = await refresher.refresh('startup');
    if (last.ok && (last.outcome === 'loaded' || last.outcome === 'verified')) return;
    const why = last.ok ? `outcome ${last.outcome}` : `${last.code}: ${last.message}`;
    log.warn({ event: 'startup.attempt_failed', attempt, of, source: config.sourceLabel }, `first load attempt ${attempt}/${of} failed: ${why}`);
  }
  const detail = last && !last.ok ? last.message : 'the artifact is revoked';
  throw new StartupError(
    `could not load the artifact from ${config.sourceLabel} after ${of} attempts: ${detail}. Hint: ${startupHint(last as LoadResult)}`,
    1,
    'Extension.ArtifactLoadFailed',
  );
}
