/**
 * What every in-process micro-benchmark prints: the machine, a right-aligned table, and one JSON
 * line (prefix `RESULT `) that bench/lib/measure.ts reads back.
 */
import { availableParallelism, cpus } from 'node:os';

export interface MicroMachine {
  readonly cpu: string;
  readonly cores: number;
  readonly node: string;
  readonly platform: string;
}

/** The machine this process sees (after any `taskset`), printed as the report's first line. */
export function printMicroMachine(): MicroMachine {
  const machine = { cpu: cpus()[0]?.model ?? 'unknown', cores: availableParallelism(), node: process.version, platform: `${process.platform}/${process.arch}` };
  console.log(`machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, ${machine.platform}`);
  return machine;
}

/** The table, then the machine-readable line with the raw rows. */
export function printMicroResult(
  bench: string,
  machine: MicroMachine,
  seconds: number,
  table: { readonly header: readonly string[]; readonly lines: readonly (readonly string[])[] },
  rows: readonly object[],
): void {
  const { header, lines } = table;
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
  const fmt = (cells: readonly string[]): string => cells.map((c, i) => c.padStart(widths[i] ?? 0)).join('  ');
  console.log(fmt(header));
  for (const l of lines) console.log(fmt(l));
  console.log(`\nRESULT ${JSON.stringify({ bench, machine, seconds, rows })}`);
}
