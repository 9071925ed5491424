/**
 * Metric families whose hot path is a number increment. prom-client's own children hash their
 * label values into a string on every call; here a child is resolved once per label combination
 * and then kept. The cells are read only when someone asks: the Prometheus registry through `get()`
 * (the shape prom-client formats), the OTLP bridge (otlp-metrics.ts) through `points()` — the same
 * cells either way, so both see one set of definitions.
 */

export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  readonly metricName?: string;
  readonly labels: Labels;
  readonly value: number;
}

/** A family's current values, structured (histogram counts per bucket, not cumulative). */
export type Points =
  | { readonly type: 'counter' | 'gauge'; readonly points: readonly Sample[] }
  | {
      readonly type: 'histogram';
      readonly bounds: readonly number[];
      readonly points: readonly { readonly labels: Labels; readonly counts: readonly number[]; readonly sum: number; readonly count: number }[];
    };

/** What prom-client's Registry needs from a metric (name, help, type, `get()`), and `points()` for OTLP. */
export interface Family {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  get(): { name: string; help: string; type: string; values: Sample[]; aggregator: 'sum' | 'average' | 'first' | 'omit' };
  points(): Points;
}

abstract class Base implements Family {
  abstract readonly type: Family['type'];
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  protected abstract samples(): Sample[];
  abstract points(): Points;
  get(): ReturnType<Family['get']> {
    return { name: this.name, help: this.help, type: this.type, values: this.samples(), aggregator: 'sum' };
  }
}

export interface CounterCell {
  value: number;
}

/** A counter family: `child(labels)` once, then `cell.value++` per event. */
export class CounterFamily extends Base {
  readonly type = 'counter';
  private readonly cells: { labels: Labels; cell: CounterCell }[] = [];

  /** The cell for these labels (created on first use; call it once and keep the cell). */
  child(labels: Labels): CounterCell {
    const found = this.cells.find((c) => sameLabels(c.labels, labels));
    if (found) return found.cell;
    const cell = { value: 0 };
    this.cells.push({ labels, cell });
    return cell;
  }

  protected samples(): Sample[] {
    return this.cells.map((c) => ({ labels: c.labels, value: c.cell.value }));
  }

  points(): Points {
    return { type: 'counter', points: this.samples() };
  }
}

/** A gauge read when scraped: `read()` returns the samples of the moment. */
export class GaugeFamily extends Base {
  readonly type = 'gauge';
  constructor(
    name: string,
    help: string,
    private readonly read: () => Sample[],
  ) {
    super(name, help);
  }
  protected samples(): Sample[] {
    return this.read();
  }

  points(): Points {
    return { type: 'gauge', points: this.read() };
  }
}

/** Upper bounds in seconds, from well under a cached answer's cost to past any deadline. */
export const DURATION_BUCKETS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export class HistogramCell {
  /** Non-cumulative counts per bucket; the last slot is +Inf. */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length + 1);
  }
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > (b[i] as number)) i++;
    this.counts[i] = (this.counts[i] ?? 0) + 1;
    this.sum += v;
    this.count++;
  }
}

export class HistogramFamily extends Base {
  readonly type = 'histogram';
  private readonly cells: { labels: Labels; cell: HistogramCell }[] = [];
  constructor(
    name: string,
    help: string,
    private readonly bounds: readonly number[] = DURATION_BUCKETS,
  ) {
    super(name, help);
  }

  child(labels: Labels): HistogramCell {
    const found = this.cells.find((c) => sameLabels(c.labels, labels));
    if (found) return found.cell;
    const cell = new HistogramCell(this.bounds);
    this.cells.push({ labels, cell });
    return cell;
  }

  protected samples(): Sample[] {
    const out: Sample[] = [];
    for (const { labels, cell } of this.cells) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += cell.counts[i] ?? 0;
        out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: String(le) }, value: cumulative });
      });
      out.push({ metricName: `${this.name}_bucket`, labels: { ...labels, le: '+Inf' }, value: cell.count });
      out.push({ metricName: `${this.name}_sum`, labels, value: cell.sum });
      out.push({ metricName: `${this.name}_count`, labels, value: cell.count });
    }
    return out;
  }

  points(): Points {
    return {
      type: 'histogram',
      bounds: this.bounds,
      points: this.cells.map(({ labels, cell }) => ({ labels, counts: [...cell.counts], sum: cell.sum, count: cell.count })),
    };
  }
}

function sameLabels(a: Labels, b: Labels): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}
