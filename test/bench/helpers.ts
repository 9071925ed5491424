/** Made-up measurements for the bench report tests: only the fields a test looks at vary. */
import type { Machine } from '../../bench/lib/machine.js';
import type { TableRow } from '../../tools/loadtest/table.js';

export const MACHINE: Machine = { cpu: 'test cpu', cores: 2, node: 'v20', platform: 'linux/x64', loadAvgAtStart: 0, busyAtStart: 0, commit: 'abc1234' };

/** A load-table row at `rps` with fixed latencies (1/2/3 ms) and no errors; `extra` last. */
export function tableRow(label: string, rps: number, extra: Partial<TableRow> = {}): TableRow {
  return { label, rps, p50Ms: 1, p99Ms: 2, maxMs: 3, requests: rps * 5, errors: 0, non2xx: 0, ...extra };
}
