/** The bench's footprint targets and report (issue 14), without processes: made-up measurements. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { FootprintResult, RssResult } from '../../bench/lib/footprint.js';
import { parseBenchArgs } from '../../bench/lib/options.js';
import { footprintSection, footprintTargets, verdict } from '../../bench/lib/report.js';
import type { ScenarioResult } from '../../bench/lib/suite.js';
import { tableRow } from './helpers.js';

const rss = (label: string, kind: RssResult['kind'], rssMiB: number, extra: Partial<RssResult> = {}): RssResult => ({
  label,
  kind,
  rssMiB,
  anonMiB: rssMiB - 30,
  fileMiB: 30,
  warmRssMiB: rssMiB + 10,
  ...extra,
});

const FOOTPRINT: FootprintResult = {
  bareStartMs: 60,
  bareWorkerStartMs: 110,
  startup: [
    { label: 'cached, age, HTTP source', kind: 'age', source: 'http', build: 'bundle', listeningMs: 100, readyMs: 115, samples: 5 },
    { label: 'cached, KMS, HTTP source', kind: 'kms', source: 'http', build: 'bundle', listeningMs: 100, readyMs: 400, samples: 5 },
  ],
  rss: [
    rss('bare node (idle)', 'bare', 40),
    rss('cached, age, file source', 'age', 60, { source: 'file', build: 'bundle', mode: 'cached' }),
    rss('cached, age, HTTP source', 'age', 70, { source: 'http', build: 'bundle', mode: 'cached' }),
    rss('JIT, age, HTTP source', 'age', 90, { source: 'http', build: 'bundle', mode: 'jit' }),
  ],
  settleMs: 8000,
  warmMs: 2000,
};

function peak(what: 'cached' | 'jit', kind: 'age' | 'kms', keys: number, peakRssMiB: number): ScenarioResult {
  return { id: `${what}-${kind}-${keys}`, what, kind, keys, row: tableRow(`${what} ${kind} ${keys} keys`, 1000, { peakRssMiB }), reps: [], bodyBytes: 1 };
}

describe('bench footprint', () => {
  it('judges idle RSS, start-up and peak RSS against the bare node; other configurations are information', () => {
    const targets = footprintTargets(FOOTPRINT, [peak('cached', 'age', 10, 95), peak('jit', 'age', 1000, 130), peak('jit', 'kms', 10, 300)]);
    const by = (fragment: string): string => {
      const t = targets.find((x) => x.target.includes(fragment));
      assert.ok(t, fragment);
      return `${verdict(t)} ${t.measured.toFixed(2)}`;
    };
    assert.equal(by('idle RSS above a bare node, MiB (cached, age, file source)'), 'PASS 20.00');
    assert.equal(by('idle RSS above a bare node, MiB (cached, age, HTTP source)'), 'MISS 30.00');
    assert.equal(by('idle RSS above a bare node, MiB (JIT, age, HTTP source)'), 'info 50.00', 'JIT workers stay up: reported, not judged');
    assert.equal(by('spawn → ready ÷ bare node start (cached, age, HTTP source)'), 'PASS 1.92');
    assert.equal(by('spawn → ready ÷ bare node start (cached, KMS, HTTP source)'), 'info 6.67');
    assert.equal(by('(cached age 10 keys)'), 'PASS 55.00');
    assert.equal(by('(jit age 1000 keys)'), 'MISS 90.00');
    assert.equal(by('(jit kms 10 keys)'), 'info 260.00');
  });

  it('reports the floor (bare node plus one worker) beside the bare start, and RSS with the worker up', () => {
    const md = footprintSection(FOOTPRINT).join('\n');
    assert.match(md, /\*\*60 ms\*\*/);
    assert.match(md, /\*\*110 ms\*\* \(1\.83× the bare start\)/);
    assert.match(md, /\| cached, age, HTTP source \| 70\.0 \| 30\.0 \| 40\.0 \| 30\.0 \| 80\.0 \| 40\.0 \|/);
  });

  it('--footprint runs alone', () => {
    const o = parseBenchArgs(['--footprint']);
    assert.ok(o !== 'help' && o.footprintOnly === true);
    for (const other of [['--pool-sizing'], ['--metrics-overhead'], ['--soak', '2'], ['--baseline']])
      assert.throws(() => parseBenchArgs(['--footprint', ...other]), /runs alone/);
  });
});
