/**
 * Micro-benchmark of the JIT `/v1/secrets/:key` lookup on a large secret set, both paths in one run:
 *   (a) index: the path before the scanner — JSON.parse and the shape check (parseChecked), every
 *       value JSON-encoded and a KeyIndex of every key built (secretByIndex), then one answer
 *   (b) scan:  one pass over the plaintext that builds nothing per key (secretByScan, workers/scan.ts)
 * Decryption is left out (it is the same for both, see decrypt-micro.ts); each variant starts from
 * the decrypted plaintext bytes, as the worker does.
 *
 * Run: `node dist/bench/key-lookup-micro.js` (BENCH_SECONDS=2 measured seconds per variant and size
 * by default; BENCH_KEYS=10000,100000 the sizes). Prints the machine, a table, and one JSON line
 * (prefix `RESULT `) for scripts.
 */
import { randomBytes } from 'node:crypto';
import type { ServeResult } from '../common/protocol.js';
import { parseChecked } from '../workers/payload.js';
import { secretByIndex, secretByScan } from '../workers/serve.js';
import type { KeyLookupRow as Row } from './lib/measure.js';
import { printMicroMachine, printMicroResult } from './lib/micro-output.js';

const SECONDS = Number(process.env['BENCH_SECONDS'] ?? '2');
const SIZES = (process.env['BENCH_KEYS'] ?? '10000,100000').split(',').map(Number);
const ROUNDS = 5;
const NAMESPACES = 10;

type Op = () => ServeResult;

/** Runs `op` back to back for at least `seconds` (and at least twice); mean µs per op. */
function measure(op: Op, seconds: number): number {
  const budget = BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let ops = 0;
  let now = start;
  while (ops < 2 || now - start < budget) {
    op();
    ops++;
    now = process.hrtime.bigint();
  }
  return Number(now - start) / 1e3 / ops;
}

/** `keys` secrets over NAMESPACES namespaces, as `clef-agent pack` writes them (compact JSON). */
function plaintext(keys: number): { bytes: Uint8Array; name: string } {
  const payload: Record<string, Record<string, string>> = {};
  for (let i = 0; i < keys; i++) {
    const ns = `ns${i % NAMESPACES}`;
    (payload[ns] ??= {})[`SECRET_${i}`] = randomBytes(24).toString('base64');
  }
  // The middle key: the scan still reads the whole payload to validate it, so position barely matters.
  const mid = Math.floor(keys / 2);
  return { bytes: Buffer.from(JSON.stringify(payload), 'utf8'), name: `ns${mid % NAMESPACES}__SECRET_${mid}` };
}

function bench(keys: number): Row {
  const { bytes, name } = plaintext(keys);
  const request = { route: 'secret', name, plain: false } as const;
  const index: Op = () => {
    const payload = parseChecked(bytes);
    return 'ok' in payload ? payload : secretByIndex(payload, request);
  };
  const scan: Op = () => secretByScan(bytes, request, Number.MAX_SAFE_INTEGER);

  // Same answer from both, or the numbers mean nothing.
  const a = index();
  const b = scan();
  if (!a.ok || a.status !== 200 || !b.ok || b.status !== 200 || !Buffer.from(a.body).equals(Buffer.from(b.body))) throw new Error('variants disagree');

  measure(index, Math.min(0.5, SECONDS / 4));
  measure(scan, Math.min(0.5, SECONDS / 4));
  // Interleaved rounds, median per variant: load on a shared machine drifts over seconds.
  const samples: [number[], number[]] = [[], []];
  for (let r = 0; r < ROUNDS; r++) {
    samples[0].push(measure(index, SECONDS / ROUNDS));
    samples[1].push(measure(scan, SECONDS / ROUNDS));
  }
  const [indexUs, scanUs] = samples.map(median) as [number, number];
  return {
    keys,
    plaintextBytes: bytes.length,
    indexUs: round(indexUs),
    scanUs: round(scanUs),
    indexPerSecond: round(1e6 / indexUs),
    scanPerSecond: round(1e6 / scanUs),
    scanOverIndex: round(scanUs / indexUs, 3),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

const round = (x: number, digits = 1): number => Number(x.toFixed(digits));

function main(): void {
  const machine = printMicroMachine();
  console.log(`each variant: warm-up, then ${ROUNDS} interleaved rounds, ${SECONDS}s in all; median µs per lookup, one thread\n`);
  const rows = SIZES.map(bench);
  const header = ['keys', 'plaintext B', '(a) index µs', '(b) scan µs', '(a) /s', '(b) /s', 'b/a'];
  const lines = rows.map((r) => [
    String(r.keys),
    String(r.plaintextBytes),
    r.indexUs.toFixed(1),
    r.scanUs.toFixed(1),
    r.indexPerSecond.toFixed(1),
    r.scanPerSecond.toFixed(1),
    r.scanOverIndex.toFixed(3),
  ]);
  printMicroResult('key-lookup-micro', machine, SECONDS, { header, lines }, rows);
}

main();
