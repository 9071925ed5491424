/**
 * A hand-written SVG (no dependency): on top, requests/s per agent scenario with its limit drawn in
 * as a dashed line (HTTP limit over cached bars, decryption limit over JIT bars); below, p99 of the
 * secrets route and of `/v1/health` under that load. One group per encryption kind and size; the
 * panels are stacked, full width, so four groups (two kinds × two sizes) keep readable bars.
 */
import type { ScenarioResult } from './suite.js';

const W = 960;
/** Each panel: title, plot area of this height, bar and group labels below it. */
const PANEL = { height: 230, width: W - 40, below: 60 };
const TOP = [90, 90 + 30 + PANEL.height + PANEL.below + 40] as const;
const H = TOP[1] + PANEL.height + PANEL.below + 40;
const COLORS = { cached: '#2b6cb0', jit: '#c05621', limit: '#1a202c', health: '#718096' };

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function num(v: number, digits = 0): string {
  if (!Number.isFinite(v)) return '-';
  return v >= 10_000 ? `${(v / 1000).toFixed(1)}k` : v.toFixed(digits);
}

/** A "nice" axis maximum above `v`: 1, 2 or 5 × a power of ten. */
function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  return ([1, 2, 5, 10].find((m) => m * p >= v) ?? 10) * p;
}

interface Bar {
  readonly label: string;
  readonly value: number;
  readonly color: string;
  readonly limit?: number | undefined;
  readonly valueLabel: string;
}

function panel(x0: number, top: number, title: string, unit: string, groups: readonly { name: string; bars: readonly Bar[] }[], log = false): string {
  const all = groups.flatMap((g) => g.bars.flatMap((b) => [b.value, b.limit ?? Number.NaN])).filter((v) => Number.isFinite(v) && v > 0);
  const height = PANEL.height;
  const bottom = top + height;
  // Log scale (for latencies, which span three orders of magnitude): one tick per power of ten.
  const lo = log ? 10 ** Math.floor(Math.log10(Math.min(...all, 1))) : 0;
  const max = log ? 10 ** Math.ceil(Math.log10(Math.max(...all, 1))) : niceMax(Math.max(...all, 0));
  const y = (v: number): number =>
    log ? bottom - (Math.log10(Math.min(Math.max(v, lo), max) / lo) / Math.log10(max / lo)) * height : bottom - (Math.min(v, max) / max) * height;
  const ticks = log ? Array.from({ length: Math.round(Math.log10(max / lo)) + 1 }, (_, i) => lo * 10 ** i) : [0, 1, 2, 3, 4].map((i) => (max * i) / 4);
  const out: string[] = [`<text x="${x0}" y="${top - 22}" font-size="15" font-weight="bold">${esc(title)}</text>`];
  for (const v of ticks) {
    out.push(`<line x1="${x0 + 50}" x2="${x0 + PANEL.width}" y1="${y(v)}" y2="${y(v)}" stroke="#e2e8f0"/>`);
    out.push(`<text x="${x0 + 44}" y="${y(v) + 4}" font-size="11" text-anchor="end">${v === 0 ? '0' : num(v, v < 1 ? 1 : 0)}</text>`);
  }
  out.push(
    `<text x="${x0 + 10}" y="${(top + bottom) / 2}" font-size="11" transform="rotate(-90 ${x0 + 10} ${(top + bottom) / 2})" text-anchor="middle">${esc(unit)}</text>`,
  );
  const groupWidth = (PANEL.width - 60) / Math.max(1, groups.length);
  groups.forEach((g, gi) => {
    const gx = x0 + 60 + gi * groupWidth;
    const barWidth = Math.min(48, (groupWidth - 20) / Math.max(1, g.bars.length));
    g.bars.forEach((b, bi) => {
      const bx = gx + 10 + bi * barWidth;
      const barTop = Number.isFinite(b.value) ? y(b.value) : bottom;
      out.push(
        `<rect x="${bx}" y="${barTop}" width="${barWidth - 6}" height="${bottom - barTop}" fill="${b.color}"><title>${esc(`${b.label}: ${b.valueLabel}`)}</title></rect>`,
      );
      // Above the bar; above the limit line instead when that line sits just over the bar.
      const limitY = b.limit !== undefined && Number.isFinite(b.limit) ? y(b.limit) : Number.NaN;
      const labelY = (barTop - limitY >= 0 && barTop - limitY < 14 ? limitY : barTop) - 4;
      out.push(`<text x="${bx + (barWidth - 6) / 2}" y="${labelY}" font-size="10" text-anchor="middle">${esc(b.valueLabel)}</text>`);
      if (b.limit !== undefined && Number.isFinite(b.limit)) {
        const ly = y(b.limit);
        out.push(
          `<line x1="${bx - 3}" x2="${bx + barWidth - 3}" y1="${ly}" y2="${ly}" stroke="${COLORS.limit}" stroke-width="2" stroke-dasharray="4 3"><title>limit ${num(b.limit)}</title></line>`,
        );
      }
      out.push(`<text x="${bx + (barWidth - 6) / 2}" y="${bottom + 14}" font-size="10" text-anchor="middle">${esc(b.label)}</text>`);
      if (b.limit !== undefined && Number.isFinite(b.limit)) {
        out.push(`<text x="${bx + (barWidth - 6) / 2}" y="${bottom + 26}" font-size="9" fill="#4a5568" text-anchor="middle">limit ${num(b.limit)}</text>`);
      }
    });
    out.push(`<text x="${gx + 10 + (g.bars.length * barWidth) / 2}" y="${bottom + 44}" font-size="12" text-anchor="middle">${esc(g.name)}</text>`);
  });
  out.push(`<line x1="${x0 + 50}" x2="${x0 + PANEL.width}" y1="${bottom}" y2="${bottom}" stroke="#4a5568"/>`);
  return out.join('\n');
}

export function renderChart(scenarios: readonly ScenarioResult[], title: string, subtitle: string): string {
  const find = (what: ScenarioResult['what'], kind: string, keys: number): ScenarioResult | undefined =>
    scenarios.find((s) => s.what === what && s.kind === kind && s.keys === keys);
  const groups = [...new Set(scenarios.map((s) => `${s.kind}/${s.keys}`))].map((k) => {
    const [kind = '', keysText = '0'] = k.split('/');
    return { kind, keys: Number(keysText) };
  });
  // One HTTP limit per size (the same bytes for every kind), found whichever kind's block measured it.
  const httpLimit = (keys: number): number | undefined => scenarios.find((s) => s.what === 'http-limit' && s.keys === keys)?.row.rps;
  const rate = groups.map(({ kind, keys }) => {
    const c = find('cached', kind, keys);
    const j = find('jit', kind, keys);
    return {
      name: `${kind}, ${keys} keys`,
      bars: [
        {
          label: 'cached',
          value: c?.row.rps ?? Number.NaN,
          color: COLORS.cached,
          limit: httpLimit(keys),
          valueLabel: num(c?.row.rps ?? Number.NaN),
        },
        {
          label: 'JIT',
          value: j?.row.rps ?? Number.NaN,
          color: COLORS.jit,
          limit: find('decrypt-limit', kind, keys)?.row.rps,
          valueLabel: num(j?.row.rps ?? Number.NaN),
        },
      ],
    };
  });
  const latency = groups.map(({ kind, keys }) => {
    const c = find('cached', kind, keys);
    const j = find('jit', kind, keys);
    const bar = (label: string, v: number | undefined, color: string): Bar => ({ label, value: v ?? Number.NaN, color, valueLabel: num(v ?? Number.NaN, 2) });
    return {
      name: `${kind}, ${keys} keys`,
      bars: [
        bar('cached', c?.row.p99Ms, COLORS.cached),
        bar('JIT', j?.row.p99Ms, COLORS.jit),
        bar('c health', c?.row.healthP99Ms, COLORS.health),
        bar('J health', j?.row.healthP99Ms, COLORS.health),
      ],
    };
  });
  const legend = [
    `<rect x="20" y="${H - 40}" width="12" height="12" fill="${COLORS.cached}"/><text x="38" y="${H - 30}" font-size="12">cached /v1/secrets</text>`,
    `<rect x="170" y="${H - 40}" width="12" height="12" fill="${COLORS.jit}"/><text x="188" y="${H - 30}" font-size="12">JIT /v1/secrets</text>`,
    `<rect x="310" y="${H - 40}" width="12" height="12" fill="${COLORS.health}"/><text x="328" y="${H - 30}" font-size="12">/v1/health p99 under that load</text>`,
    `<line x1="540" x2="570" y1="${H - 34}" y2="${H - 34}" stroke="${COLORS.limit}" stroke-width="2" stroke-dasharray="4 3"/><text x="576" y="${H - 30}" font-size="12">limit: HTTP (over cached), decryption (over JIT)</text>`,
  ];
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif">`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="20" y="24" font-size="16" font-weight="bold">${esc(title)}</text>`,
    `<text x="20" y="42" font-size="11" fill="#4a5568">${esc(subtitle)}</text>`,
    panel(20, TOP[0], 'requests/s (higher is better)', 'req/s', rate),
    panel(20, TOP[1], 'p99 latency, log scale (lower is better)', 'ms', latency, true),
    ...legend,
    '</svg>',
    '',
  ].join('\n');
}
