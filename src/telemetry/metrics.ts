/**
 * The agent's metrics (SPEC §8), defined once: the Prometheus endpoint formats them with
 * prom-client's registry, and the OTLP bridge (otlp-metrics.ts) reads the same families.
 * Loaded only when the operations listener or an OTLP metrics endpoint is configured (agent.ts
 * imports it dynamically).
 *
 * No label or value carries a secret or a secret key name: labels are route names, status codes,
 * task kinds, failure codes and the artifact's revision and mode — all fixed sets or public.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { Registry, type Metric } from 'prom-client';
import type { FailureCode } from '../../common/failures.js';
import type { RefreshStatus } from '../refresh/sink.js';
import type { Readiness } from '../serving/mode.js';
import { CounterFamily, GaugeFamily, HistogramFamily, type CounterCell, type Family, type HistogramCell, type Sample } from './cells.js';
import type { Listener, PoolRecorder, RefreshOutcome, RefreshRecorder, Rejection, RequestRecorder, RequestRoute, TaskKind } from './recorder.js';

/** What the scrape-time gauges read: the live objects, never copies. */
export interface MetricSources {
  readonly mode: 'cached' | 'jit';
  readonly pool: { readonly size: number; readonly queued: number; readonly running: number };
  readonly status: RefreshStatus;
  readonly ready: () => Readiness;
  /** Seconds an artifact may be served without a successful refresh (+Inf: KMS-gated JIT). */
  readonly freshnessSeconds: () => number;
  readonly clock: () => number;
  /** Long-poll requests parked right now (SPEC §10.2). */
  readonly waiters: () => number;
}

const ROUTES: readonly RequestRoute[] = ['health', 'ready', 'secrets', 'secret', 'keys', 'refresh', 'metrics', 'unmatched'];
const P = 'clef_agent_';

export class AgentMetrics implements PoolRecorder, RefreshRecorder {
  readonly registry = new Registry();
  /** Every family, in definition order: what the registry formats and the OTLP bridge exports. */
  readonly families: readonly Family[];
  private sources: MetricSources | undefined;
  private readonly loopDelay: IntervalHistogram;

  private readonly requests = new CounterFamily(`${P}http_requests_total`, 'HTTP requests answered, by listener, matched route and status code');
  // By token name (SPEC §10.3): names come from the main token (`main`) and the scoped-tokens file
  // (at most MAX_SCOPED_TOKENS each), so the label's cardinality is bounded by configuration.
  private readonly tokenRequests = new CounterFamily(
    `${P}http_authenticated_requests_total`,
    'Requests that passed the token check, by matched route, token name and status code',
  );
  private readonly requestSeconds = new HistogramFamily(
    `${P}http_request_duration_seconds`,
    'Time from request to the end of its response, by listener and matched route',
  );
  private readonly refreshes = new CounterFamily(`${P}refreshes_total`, 'Artifact refreshes by outcome and, for failures, the failure code');
  private readonly taskSeconds = new HistogramFamily(
    `${P}pool_task_duration_seconds`,
    'Worker task time seen from the main thread (queueing included), by task kind',
  );
  private readonly kmsCalls = new CounterFamily(`${P}kms_decrypt_calls_total`, 'KMS Decrypt calls made by the workers');
  private readonly kmsFailures = new CounterFamily(`${P}kms_decrypt_failures_total`, 'KMS Decrypt calls that failed, by failure code');
  private readonly rejections = new CounterFamily(`${P}overload_rejections_total`, 'Work turned away for load: worker queue full, or the connection cap');

  private readonly taskCells = new Map<TaskKind, HistogramCell>();
  private readonly refreshCells = new Map<string, CounterCell>();
  private readonly kmsCallCell: CounterCell;
  private readonly kmsFailureCells = new Map<FailureCode, CounterCell>();
  private readonly rejectionCells: Record<Rejection, CounterCell>;

  constructor() {
    this.kmsCallCell = this.kmsCalls.child({});
    this.rejectionCells = {
      queue_full: this.rejections.child({ reason: 'queue_full' }),
      too_many_connections: this.rejections.child({ reason: 'too_many_connections' }),
    };
    // Every series an alert may reference exists from the start, at zero.
    for (const outcome of ['loaded', 'unchanged', 'failed'] as const) this.refreshCell(outcome, undefined);
    this.loopDelay = monitorEventLoopDelay({ resolution: 20 });
    this.loopDelay.enable();
    this.families = [
      this.requests,
      this.tokenRequests,
      this.requestSeconds,
      this.refreshes,
      new GaugeFamily(`${P}last_refresh_success_timestamp_seconds`, 'When the last successful refresh finished (Unix seconds); absent before the first', () =>
        this.lastSuccess((at) => at / 1000),
      ),
      new GaugeFamily(`${P}seconds_since_last_refresh`, 'Seconds since the last successful refresh; absent before the first', () =>
        this.lastSuccess((at) => (this.src().clock() - at) / 1000),
      ),
      new GaugeFamily(
        `${P}freshness_limit_seconds`,
        'Seconds the artifact may be served without a successful refresh (CACHE_TTL or MAX_STALE; +Inf when KMS gates each request)',
        () => [{ labels: {}, value: this.src().freshnessSeconds() }],
      ),
      new GaugeFamily(`${P}ready`, '1 when /v1/ready answers 200, else 0', () => [{ labels: {}, value: this.src().ready().ready ? 1 : 0 }]),
      new GaugeFamily(`${P}artifact_info`, 'The served artifact: always 1, with its revision, the serving mode and the encryption', () => {
        const meta = this.src().status.meta;
        return meta === undefined ? [] : [{ labels: { revision: meta.revision, mode: this.src().mode, encryption: meta.encryption }, value: 1 }];
      }),
      new GaugeFamily(`${P}pool_workers`, 'Worker threads the pool runs at most (CLEF_AGENT_WORKERS; idle ones exit between polls in cached mode)', () => [
        { labels: {}, value: this.src().pool.size },
      ]),
      new GaugeFamily(`${P}pool_busy_workers`, 'Workers running at least one task (tasks in flight, capped at the pool size)', () => {
        const p = this.src().pool;
        return [{ labels: {}, value: Math.min(p.size, p.running) }];
      }),
      new GaugeFamily(`${P}pool_queue_depth`, 'Tasks waiting for a worker', () => [{ labels: {}, value: this.src().pool.queued }]),
      new GaugeFamily(`${P}long_poll_waiters`, 'Long-poll requests (?wait=) parked until the artifact changes (CLEF_AGENT_MAX_WAITERS caps them)', () => [
        { labels: {}, value: this.src().waiters() },
      ]),
      this.taskSeconds,
      this.kmsCalls,
      this.kmsFailures,
      this.rejections,
      new GaugeFamily(`${P}event_loop_delay_seconds`, 'Main-thread event-loop delay since the previous read (a scrape or an OTLP export), by statistic', () =>
        this.loopDelaySamples(),
      ),
      new GaugeFamily(`${P}process_memory_bytes`, 'Process memory by kind (rss, heap_total, heap_used, external, array_buffers)', () => {
        const m = process.memoryUsage();
        return [
          { labels: { kind: 'rss' }, value: m.rss },
          { labels: { kind: 'heap_total' }, value: m.heapTotal },
          { labels: { kind: 'heap_used' }, value: m.heapUsed },
          { labels: { kind: 'external' }, value: m.external },
          { labels: { kind: 'array_buffers' }, value: m.arrayBuffers },
        ];
      }),
    ];
    // The registry formats any object with a name and a get() of prom-client's shape; its typings
    // name only its own classes.
    for (const f of this.families) this.registry.registerMetric(f as unknown as Metric);
  }

  /** The live objects the gauges read; called once the pool and the refresh loop exist. */
  bind(sources: MetricSources): void {
    this.sources = sources;
  }

  /** Request counting for one listener, every route's cells resolved now. */
  forListener(listener: Listener): RequestRecorder {
    const routes = new Map<RequestRoute, { seconds: HistogramCell; byStatus: Map<number, CounterCell> }>();
    for (const route of ROUTES) routes.set(route, { seconds: this.requestSeconds.child({ listener, route }), byStatus: new Map() });
    const tokenCells = new Map<string, CounterCell>();
    return {
      request: (route, status, seconds) => {
        const r = routes.get(route);
        if (r === undefined) return;
        let cell = r.byStatus.get(status);
        if (cell === undefined) {
          cell = this.requests.child({ listener, route, status: String(status) });
          r.byStatus.set(status, cell);
        }
        cell.value++;
        r.seconds.observe(seconds);
      },
      authenticated: (route, token, status) => {
        const id = `${route}\u0000${token}\u0000${status}`;
        let cell = tokenCells.get(id);
        if (cell === undefined) {
          cell = this.tokenRequests.child({ listener, route, token, status: String(status) });
          tokenCells.set(id, cell);
        }
        cell.value++;
      },
      rejected: (why) => this.rejected(why),
    };
  }

  rejected(why: Rejection): void {
    this.rejectionCells[why].value++;
  }

  task(kind: TaskKind, seconds: number): void {
    let cell = this.taskCells.get(kind);
    if (cell === undefined) {
      cell = this.taskSeconds.child({ kind });
      this.taskCells.set(kind, cell);
    }
    cell.observe(seconds);
  }

  refreshed(outcome: RefreshOutcome, reason?: FailureCode): void {
    this.refreshCell(outcome, reason).value++;
  }

  kmsDecrypt(failure?: FailureCode): void {
    this.kmsCallCell.value++;
    if (failure === undefined) return;
    let cell = this.kmsFailureCells.get(failure);
    if (cell === undefined) {
      cell = this.kmsFailures.child({ reason: failure });
      this.kmsFailureCells.set(failure, cell);
    }
    cell.value++;
  }

  /** Prometheus text format 0.0.4. */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    this.loopDelay.disable();
  }

  private refreshCell(outcome: RefreshOutcome, reason: FailureCode | undefined): CounterCell {
    const key = `${outcome}/${reason ?? ''}`;
    let cell = this.refreshCells.get(key);
    if (cell === undefined) {
      cell = this.refreshes.child({ outcome, reason: reason ?? '' });
      this.refreshCells.set(key, cell);
    }
    return cell;
  }

  private src(): MetricSources {
    if (this.sources === undefined) throw new Error('metrics scraped before their sources were bound');
    return this.sources;
  }

  private lastSuccess(value: (atMs: number) => number): Sample[] {
    const at = this.src().status.lastSuccessAt;
    return at === undefined ? [] : [{ labels: {}, value: value(at) }];
  }

  private loopDelaySamples(): Sample[] {
    const h = this.loopDelay;
    // The histogram is in nanoseconds; with no sample yet its mean is NaN.
    const s = (ns: number): number => (Number.isFinite(ns) ? ns / 1e9 : 0);
    const out = [
      { labels: { stat: 'mean' }, value: s(h.mean) },
      { labels: { stat: 'p50' }, value: s(h.percentile(50)) },
      { labels: { stat: 'p99' }, value: s(h.percentile(99)) },
      { labels: { stat: 'max' }, value: s(h.max) },
    ];
    h.reset();
    return out;
  }
}
