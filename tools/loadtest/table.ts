/**
 * The results table shared by `clef-agent loadtest` and `npm run bench`: one row per scenario,
 * the same columns in both, so a user's own run reads like the committed baseline.
 */

/** One measured load run (or the median of several), as both tools report it. */
export interface LoadSummary {
  /** Completed responses per second over the measured window. */
  readonly rps: number;
  /** Latency percentiles and maximum, milliseconds. */
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Responses completed in the window (any status). */
  readonly requests: number;
  /** Socket errors and timeouts: requests that got no response. */
  readonly errors: number;
  /** Responses whose status was not 2xx. */
  readonly non2xx: number;
}

/** A table row: a load summary plus the bench-only columns (absent in `loadtest`). */
export interface TableRow extends LoadSummary {
  readonly label: string;
  /** `/v1/health` p99 while the measured route was saturated, ms. */
  readonly healthP99Ms?: number | undefined;
  /** The agent's event-loop delay p99, ms. */
  readonly eventLoopP99Ms?: number | undefined;
  /** The agent's peak resident set size, MiB. */
  readonly peakRssMiB?: number | undefined;
  /** Start of the process to `/v1/ready` 200, ms. */
  readonly readyMs?: number | undefined;
}

interface Column {
  readonly head: string;
  readonly cell: (r: TableRow) => string;
  /** Bench-only columns are left out when no row has a value (e.g. in `loadtest`). */
  readonly optional?: keyof TableRow;
}

const COLUMNS: readonly Column[] = [
  { head: 'scenario', cell: (r) => r.label },
  { head: 'req/s', cell: (r) => fixed(r.rps, 0) },
  { head: 'p50 ms', cell: (r) => fixed(r.p50Ms, 2) },
  { head: 'p99 ms', cell: (r) => fixed(r.p99Ms, 2) },
  { head: 'max ms', cell: (r) => fixed(r.maxMs, 1) },
  { head: 'errors', cell: (r) => String(r.errors) },
  { head: 'non-2xx', cell: (r) => String(r.non2xx) },
  { head: 'health p99 ms', optional: 'healthP99Ms', cell: (r) => fixed(r.healthP99Ms, 2) },
  { head: 'loop p99 ms', optional: 'eventLoopP99Ms', cell: (r) => fixed(r.eventLoopP99Ms, 2) },
  { head: 'peak RSS MiB', optional: 'peakRssMiB', cell: (r) => fixed(r.peakRssMiB, 1) },
  { head: 'ready ms', optional: 'readyMs', cell: (r) => fixed(r.readyMs, 0) },
];

/** `-` for a value this tool does not measure (e.g. event-loop delay from outside the agent). */
export function fixed(value: number | undefined, digits: number): string {
  return value === undefined || !Number.isFinite(value) ? '-' : value.toFixed(digits);
}

/** Plain-text table, right-aligned numbers, for a terminal or a CI log. */
function columnsFor(rows: readonly TableRow[]): readonly Column[] {
  return COLUMNS.filter((c) => {
    const key = c.optional;
    return key === undefined || rows.some((r) => r[key] !== undefined);
  });
}

export function formatTable(rows: readonly TableRow[]): string {
  const cols = columnsFor(rows);
  const cells = rows.map((r) => cols.map((c) => c.cell(r)));
  const widths = cols.map((c, i) => Math.max(c.head.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (values: readonly string[]): string => values.map((v, i) => (i === 0 ? v.padEnd(widths[i] ?? 0) : v.padStart(widths[i] ?? 0))).join('  ');
  return [line(cols.map((c) => c.head)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)].join('\n') + '\n';
}

/** The same table as GitHub markdown (the bench report and the README). */
export function markdownTable(rows: readonly TableRow[]): string {
  const cols = columnsFor(rows);
  const head = `| ${cols.map((c) => c.head).join(' | ')} |`;
  const rule = `|${cols.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`;
  const body = rows.map((r) => `| ${cols.map((c) => c.cell(r)).join(' | ')} |`);
  return [head, rule, ...body].join('\n') + '\n';
}
