/**
 * The operations listener from the test side: its port (from the `ops.listening` log line), a
 * scrape of `/metrics` parsed by a real Prometheus text-format parser, and sample look-ups.
 */
import assert from 'node:assert/strict';
import parsePrometheusTextFormat, { type ParsedFamily, type ParsedSample } from 'parse-prometheus-text-format';
import { request, type AgentProcess, type HttpAnswer } from '../kit/index.js';

/** Every metric family of SPEC §8 and its Prometheus type. */
export const METRIC_TYPES: Readonly<Record<string, ParsedFamily['type']>> = {
  clef_agent_http_requests_total: 'COUNTER',
  clef_agent_http_request_duration_seconds: 'HISTOGRAM',
  clef_agent_refreshes_total: 'COUNTER',
  clef_agent_last_refresh_success_timestamp_seconds: 'GAUGE',
  clef_agent_seconds_since_last_refresh: 'GAUGE',
  clef_agent_freshness_limit_seconds: 'GAUGE',
  clef_agent_ready: 'GAUGE',
  clef_agent_artifact_info: 'GAUGE',
  clef_agent_pool_workers: 'GAUGE',
  clef_agent_pool_busy_workers: 'GAUGE',
  clef_agent_pool_queue_depth: 'GAUGE',
  clef_agent_long_poll_waiters: 'GAUGE',
  clef_agent_pool_task_duration_seconds: 'HISTOGRAM',
  clef_agent_kms_decrypt_calls_total: 'COUNTER',
  clef_agent_kms_decrypt_failures_total: 'COUNTER',
  clef_agent_overload_rejections_total: 'COUNTER',
  clef_agent_event_loop_delay_seconds: 'GAUGE',
  clef_agent_process_memory_bytes: 'GAUGE',
};

/** The ops listener's port, once the agent logged it. */
export async function opsPort(agent: AgentProcess): Promise<number> {
  return (await agent.waitForLog((l) => l.event === 'ops.listening'))['port'] as number;
}

export interface Scrape {
  readonly answer: HttpAnswer;
  readonly families: ReadonlyMap<string, ParsedFamily>;
}

/** GET /metrics on the ops port, checked to be 200 in the 0.0.4 text format, and parsed. */
export async function scrape(port: number, host = '127.0.0.1', connect = '127.0.0.1'): Promise<Scrape> {
  const answer = await request(port, '/metrics', { headers: { host: `${host}:${port}` }, connect });
  assert.equal(answer.status, 200, answer.body);
  assert.equal(answer.headers['content-type'], 'text/plain; version=0.0.4; charset=utf-8');
  return { answer, families: new Map(parsePrometheusTextFormat(answer.body).map((f) => [f.name, f])) };
}

/** The samples of `name` whose labels include `labels`. */
export function samples(s: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): ParsedSample[] {
  const f = s.families.get(name);
  assert.ok(f, `${name} is exposed`);
  return f.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
}

/**
 * The value of the one sample of `name` with `labels` (0 when there is none: a counter not yet
 * moved); for a histogram, its `_count`.
 */
export function value(s: Scrape, name: string, labels: Readonly<Record<string, string>> = {}): number {
  if (s.families.get(name)?.type === 'HISTOGRAM') return histogramCount(s, name, labels);
  const hits = samples(s, name, labels);
  assert.ok(hits.length <= 1, `at most one ${name} sample with ${JSON.stringify(labels)}`);
  const m = hits[0];
  if (m === undefined) return 0;
  return sampleNumber(m.value ?? m.count ?? '');
}

/** A sample value as written in the text format (`+Inf`, `-Inf` and `NaN` included). */
function sampleNumber(v: string): number {
  return v === '+Inf' ? Number.POSITIVE_INFINITY : v === '-Inf' ? Number.NEGATIVE_INFINITY : Number(v);
}

/**
 * A histogram series' `_count`. The parser keeps one series per histogram family (it merges
 * labelled series into one bucket map), so after it has accepted the whole text, the `_count`
 * lines are read here: `name_count{a="x",b="y"} N`, label values without quotes or commas (ours).
 */
function histogramCount(s: Scrape, name: string, labels: Readonly<Record<string, string>>): number {
  const hits: number[] = [];
  for (const line of s.answer.body.split('\n')) {
    const m = new RegExp(`^${name}_count(?:\\{([^}]*)\\})? (\\S+)$`).exec(line);
    if (m === null) continue;
    const have = new Map(
      (m[1] ?? '')
        .split(',')
        .filter(Boolean)
        .map((p) => p.split('=') as [string, string])
        .map(([k, v]) => [k, v.slice(1, -1)]),
    );
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) hits.push(Number(m[2]));
  }
  assert.ok(hits.length <= 1, `at most one ${name} series with ${JSON.stringify(labels)}`);
  return hits[0] ?? 0;
}
