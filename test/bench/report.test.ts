/**
 * The bench's report logic on a made-up suite of both encryption kinds (no processes, no load):
 * the ratios, which rows are targets and which are information, the markdown and the chart.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderChart } from '../../bench/lib/chart.js';
import { KINDS } from '../../bench/lib/fixtures.js';
import type { MicroRow } from '../../bench/lib/measure.js';
import { PROFILES } from '../../bench/lib/options.js';
import { checkTargets, computeRatios, renderMarkdown, type BenchResults } from '../../bench/lib/report.js';
import { SIZES, measurementCount, roundOrder, scenarioLabel, threadUse, type ScenarioResult, type SuiteResult, type What } from '../../bench/lib/suite.js';
import { mainThreadCounters, type ProbeStats } from '../../bench/agent-probe.js';
import type { Rep } from '../../bench/lib/measure.js';
import { MACHINE, tableRow } from './helpers.js';
import type { EncryptionKind } from '../../bench/lib/fixtures.js';

function scenario(what: What, kind: EncryptionKind, keys: number, rps: number, extra: Partial<ScenarioResult> = {}): ScenarioResult {
  const agent = what === 'cached' || what === 'jit';
  return {
    id: `${what}/${kind}/${keys}`,
    what,
    kind,
    keys,
    row: tableRow(scenarioLabel(what, kind, keys), rps, {
      healthP99Ms: agent ? (what === 'jit' ? 4.4 : 4) : undefined,
      eventLoopP99Ms: agent ? (what === 'jit' ? 2.2 : 2) : undefined,
    }),
    reps: [],
    bodyBytes: 100,
    ...extra,
  };
}

const micro: MicroRow[] = [
  { keys: 10, plaintextBytes: 700, naiveUs: 1600, reusedUs: 800, fastUs: 8, fastOverNaive: 0.005 },
  { keys: 1000, plaintextBytes: 70_000, naiveUs: 2000, reusedUs: 1500, fastUs: 180, fastOverNaive: 0.09 },
];

/** The matrix as runSuite lays it out: the HTTP limit measured once per size, in the age block. */
function suite(): SuiteResult {
  const scenarios: ScenarioResult[] = [];
  for (const keys of SIZES) {
    scenarios.push(scenario('cached', 'age', keys, 40_000), scenario('jit', 'age', keys, 8_000));
    scenarios.push(scenario('http-limit', 'age', keys, 50_000), scenario('decrypt-limit', 'age', keys, 10_000));
  }
  for (const keys of SIZES) {
    scenarios.push(scenario('cached', 'kms', keys, 30_000), scenario('jit', 'kms', keys, 150, { generatorCpu: 0.05, kmsCpu: 0.2, kmsDecryptsPerRequest: 1 }));
    scenarios.push(scenario('decrypt-limit', 'kms', keys, 200, { kmsCpu: 0.3, kmsDecryptsPerRequest: 1 }));
  }
  return { scenarios, micro, workers: 1, notes: [] };
}

function results(s: SuiteResult): BenchResults {
  const ratios = computeRatios(s);
  return {
    tool: 'clef-agent bench',
    startedAt: '2026-01-01T00:00:00.000Z',
    wallSeconds: 200,
    machine: MACHINE,
    profile: PROFILES.quick,
    pinning: { loadCpus: '0', agentCpus: '1', note: 'taskset: test' },
    suite: s,
    ratios,
    targets: checkTargets(ratios),
    foreignCpuShare: 0,
  };
}

describe('bench matrix', () => {
  it('runs the HTTP limit once per size, in the first kind’s block', () => {
    assert.deepEqual(KINDS, ['age', 'kms']);
    assert.deepEqual(roundOrder('age'), ['cached', 'http-limit', 'jit', 'decrypt-limit']);
    assert.deepEqual(roundOrder('kms'), ['cached', 'jit', 'decrypt-limit']);
    assert.equal(measurementCount(), SIZES.length * 7);
  });

  it('labels scenarios with their kind, except the kind-free HTTP limit', () => {
    assert.equal(scenarioLabel('cached', 'kms', 10), 'cached kms 10 keys');
    assert.equal(scenarioLabel('jit', 'age', 1000), 'JIT age 1000 keys');
    assert.equal(scenarioLabel('decrypt-limit', 'kms', 10), 'decrypt limit kms 10 keys');
    assert.equal(scenarioLabel('http-limit', 'age', 10), 'HTTP limit 10 keys');
  });
});

describe('bench ratios and targets', () => {
  it('computes KMS ratios against the size’s HTTP limit and the KMS decryption limit; no fast ÷ naive for KMS', () => {
    const ratios = computeRatios(suite());
    assert.deepEqual(
      ratios.map((r) => `${r.kind}/${r.keys}`),
      ['age/10', 'age/1000', 'kms/10', 'kms/1000'],
    );
    const kms10 = ratios.find((r) => r.kind === 'kms' && r.keys === 10);
    assert.ok(kms10);
    assert.equal(kms10.cachedOverHttpLimit, 30_000 / 50_000);
    assert.equal(kms10.jitOverDecryptLimit, 150 / 200);
    assert.ok(Number.isNaN(kms10.fastOverNaive));
    assert.equal(kms10.healthP99JitOverCached, 4.4 / 4);
    const age10 = ratios.find((r) => r.kind === 'age' && r.keys === 10);
    assert.equal(age10?.fastOverNaive, 8 / 1600);
  });

  it('keeps the age targets as they were, adds the JIT dispatch targets at 10 keys, and reports KMS rows as information only', () => {
    const targets = checkTargets(computeRatios(suite()));
    const age = targets.filter((t) => t.target.includes('(age, '));
    assert.equal(age.length, 16);
    assert.deepEqual(
      age.filter((t) => t.target.includes('10 keys)')).map((t) => [t.target, t.source, t.threshold]),
      [
        ['cached req/s ÷ HTTP limit (age, 10 keys)', 'target', '≥ 0.75'],
        ['JIT req/s ÷ decryption limit (age, 10 keys)', 'target', '≥ 0.80'],
        ['one fast decryption ÷ naive (age, 10 keys)', 'target', '≤ 0.333'],
        ['JIT ÷ cached /v1/health p99 under load (age, 10 keys)', 'target', '≤ 1.10'],
        ['JIT ÷ cached event-loop delay p99 (age, 10 keys)', 'target', '≤ 1.10'],
        ['JIT dispatch: HTTP-thread CPU per request, JIT ÷ cached (age, 10 keys)', 'issue 14', '≤ 1.50'],
        ['JIT dispatch: req/s, JIT ÷ cached (age, 10 keys)', 'issue 14', '≥ 0.45'],
        ['JIT dispatch: /v1/health p99 under load, JIT ÷ cached (age, 10 keys)', 'issue 14', '≤ 1.00'],
      ],
    );
    // At 1000 keys the dispatch figures are reported, not judged.
    for (const t of age.filter((x) => x.target.startsWith('JIT dispatch') && x.target.includes('1000 keys'))) assert.equal(t.pass, null, t.target);
    assert.equal(age.find((t) => t.target.startsWith('JIT req/s'))?.pass, true);
    const kms = targets.filter((t) => t.target.includes('(kms, '));
    assert.equal(kms.length, 12);
    for (const t of kms) {
      assert.equal(t.pass, null, t.target);
      assert.equal(t.source, 'info', t.target);
    }
    assert.ok(!kms.some((t) => t.target.includes('naive')), 'no micro-benchmark row for KMS');
    // A KMS ratio far below any age threshold is still no MISS; the only MISSes are the age dispatch
    // rows, which this fixture does not meet (no thread figures, JIT at a fifth of cached, health 1.1).
    assert.deepEqual(
      targets.filter((t) => t.pass === false).map((t) => t.target),
      [
        'JIT dispatch: HTTP-thread CPU per request, JIT ÷ cached (age, 10 keys)',
        'JIT dispatch: req/s, JIT ÷ cached (age, 10 keys)',
        'JIT dispatch: /v1/health p99 under load, JIT ÷ cached (age, 10 keys)',
      ],
    );
  });
});

describe('bench report', () => {
  it('puts the KMS rows next to the age rows in Results and Ratios, and says the micro-benchmark is age only', () => {
    const md = renderMarkdown(results(suite()), 'chart.svg');
    for (const label of ['cached kms 10 keys', 'JIT kms 1000 keys', 'decrypt limit kms 10 keys', 'cached age 10 keys', 'HTTP limit 1000 keys']) {
      assert.match(md, new RegExp(`\\| ${label} +\\|`), label);
    }
    assert.match(md, /\| kms \| 10 \| 0\.600 \| 0\.750 \| - \| 1\.100 \| 1\.100 \|/);
    assert.match(md, /\| \*\*info\*\* \| JIT req\/s ÷ decryption limit \(kms, 10 keys\) \| 0\.7500 \| none \| info \|/);
    assert.match(md, /\*\*Encryption kinds:\*\* age, kms\. KMS:/);
    assert.doesNotMatch(md, /when the KMS issue lands/);
    assert.match(md, /## Decryption micro-benchmark \(bench\/decrypt-micro\.ts, age only\)\n\nNot run for KMS/);
    assert.match(md, /- JIT kms 10 keys: autocannon 5 % of a core; KMS server 20 %; 1\.00 KMS Decrypt calls per request/);
    assert.match(md, /- decrypt limit kms 10 keys: KMS server 30 %; 1\.00 KMS Decrypt calls per request/);
  });

  it('reports the JIT single-key lookup rows (index vs scan) when the suite has them, and nothing when it has none', () => {
    const keyLookup = [
      { keys: 10_000, plaintextBytes: 488_971, indexUs: 256_705, scanUs: 2_439.9, indexPerSecond: 3.9, scanPerSecond: 409.9, scanOverIndex: 0.01 },
    ];
    const md = renderMarkdown(results({ ...suite(), keyLookup }), 'chart.svg');
    assert.match(md, /## JIT single-key lookup \(bench\/key-lookup-micro\.ts\)\n/);
    assert.match(md, /\| 10000 \| 488971 \| 256705\.0 \| 2439\.9 \| 3\.9 \| 409\.9 \| 0\.010 \|/);
    assert.doesNotMatch(renderMarkdown(results(suite()), 'chart.svg'), /JIT single-key lookup/);
  });

  it('leaves the KMS notes out of an age-only report', () => {
    const s = suite();
    const md = renderMarkdown(results({ ...s, scenarios: s.scenarios.filter((x) => x.kind === 'age') }), 'chart.svg');
    assert.match(md, /\*\*Encryption kinds:\*\* age\.\n/);
    assert.doesNotMatch(md, /kms|KMS server|KMS Decrypt|Not run for KMS/);
  });
});

describe('bench chart', () => {
  it('draws one group per kind and size, with the size’s HTTP limit over the KMS cached bar', () => {
    const svg = renderChart(suite().scenarios, 'title', 'subtitle');
    assert.ok(svg.startsWith('<svg ') && svg.trimEnd().endsWith('</svg>'));
    for (const g of ['age, 10 keys', 'age, 1000 keys', 'kms, 10 keys', 'kms, 1000 keys']) assert.equal(svg.split(`>${g}</text>`).length - 1, 2, g);
    // Cached bars of both kinds carry the 50k HTTP limit; JIT bars their kind's decryption limit.
    assert.equal(svg.split('<title>limit 50.0k</title>').length - 1, 4);
    assert.equal(svg.split('<title>limit 200</title>').length - 1, 2);
    assert.doesNotMatch(svg, /NaN|undefined/);
    const h = /height="(\d+)" viewBox/.exec(svg)?.[1];
    for (const y of svg.matchAll(/ y="([\d.-]+)"/g)) assert.ok(Number(y[1]) <= Number(h), `y=${y[1]} inside the ${h} px canvas`);
  });
});

/** One repetition as the probe and autocannon report it: a 5 s window with `requests` answered. */
function rep(requests: number, cpuCores: number, main: ProbeStats['mainThread']): Rep {
  const probe: ProbeStats = {
    probe: 'stats',
    id: 1,
    loopP50Ms: 1,
    loopP99Ms: 2,
    loopMaxMs: 3,
    loopSamples: 5000,
    rssMiB: 100,
    heapUsedMiB: 20,
    peakRssMiB: 120,
    cpuCores,
    windowMs: 5000,
    mainThread: main,
  };
  return { load: { rps: requests / 5, p50Ms: 1, p99Ms: 2, maxMs: 3, requests, errors: 0, non2xx: 0, timeouts: 0, seconds: 5, generatorCpu: 0.5 }, probe };
}

describe('bench thread accounting', () => {
  it('splits the agent’s CPU per request into the main thread and the rest, with the main thread’s wait share and preemptions', () => {
    // 50 000 requests in 5 s; the process used 1 core (5000 ms), the main thread 2000 ms of it.
    const t = threadUse([
      rep(50_000, 1, { cpuMs: 2000, waitMs: 1500, preemptions: 50_000 }),
      rep(40_000, 1, { cpuMs: 2400, waitMs: 2000, preemptions: 60_000 }),
      rep(60_000, 1, { cpuMs: 1800, waitMs: 1000, preemptions: 40_000 }),
    ]);
    assert.ok(t);
    assert.equal(t.mainCpuUsPerRequest, 40); // median of 40, 60, 30
    assert.equal(t.otherCpuUsPerRequest, 60); // median of 60, 65, 53.3
    assert.equal(t.mainWaitShare, 0.3); // median of 0.3, 0.4, 0.2
    assert.equal(t.mainPreemptionsPerSecond, 10_000);
  });

  it('has no figures where the probe had none (no /proc, or the decryption limit’s reps)', () => {
    assert.equal(threadUse([rep(1000, 1, undefined)]), undefined);
    assert.equal(threadUse([{ load: rep(1000, 1, undefined).load }]), undefined);
  });

  it('renders the HTTP-thread table for the agent scenarios only', () => {
    const s = suite();
    const t = { mainCpuUsPerRequest: 48.9, otherCpuUsPerRequest: 35.94, mainWaitShare: 0.37, mainPreemptionsPerSecond: 19057.4 };
    const scenarios = s.scenarios.map((x) => (x.what === 'jit' && x.kind === 'age' && x.keys === 10 ? { ...x, threads: t } : x));
    const md = renderMarkdown(results({ ...s, scenarios }), 'chart.svg');
    assert.match(md, /## The HTTP thread/);
    assert.match(md, /\| JIT age 10 keys \| 48\.9 \| 35\.9 \| 37 % \| 19057 \|/);
    assert.doesNotMatch(md.slice(md.indexOf('## The HTTP thread')), /\| cached age 10 keys \|/);
    assert.doesNotMatch(renderMarkdown(results(suite()), 'chart.svg'), /## The HTTP thread/);
  });

  it('reads the main thread’s scheduler counters from /proc (Linux), and they grow with work', () => {
    const before = mainThreadCounters();
    assert.ok(before, 'schedstat and status are readable for the main thread');
    let x = 0;
    for (let i = 0; i < 5_000_000; i++) x += Math.sqrt(i);
    assert.ok(x > 0);
    const after = mainThreadCounters();
    assert.ok(after);
    assert.ok(after.cpuMs > before.cpuMs, `CPU time grew: ${before.cpuMs} → ${after.cpuMs}`);
    assert.ok(after.waitMs >= before.waitMs && after.preemptions >= before.preemptions);
  });
});
