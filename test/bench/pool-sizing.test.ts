/**
 * The bench's pool-sizing mode, without processes or load: which worker counts it compares, how
 * `--pool-sizing` parses, and what its report says.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROFILES, parseBenchArgs } from '../../bench/lib/options.js';
import { renderPoolSizing, workerCounts, type PoolSizingRow } from '../../bench/lib/pool-sizing.js';
import { MACHINE, tableRow } from './helpers.js';

function row(keys: number, workers: number, rps: number, healthP99Ms: number, wait: number): PoolSizingRow {
  return {
    keys,
    workers,
    row: tableRow(`JIT age ${keys} keys, ${workers} worker${workers === 1 ? '' : 's'}`, rps, { healthP99Ms }),
    threads: { mainCpuUsPerRequest: 50, otherCpuUsPerRequest: 30, mainWaitShare: wait, mainPreemptionsPerSecond: 1000 },
  };
}

describe('bench pool sizing', () => {
  it('compares 1 … cores workers, at least 1 and 2, at most 8', () => {
    assert.deepEqual(workerCounts(1), [1, 2]);
    assert.deepEqual(workerCounts(2), [1, 2]);
    assert.deepEqual(workerCounts(4), [1, 2, 3, 4]);
    assert.equal(workerCounts(64).length, 8);
  });

  it('parses --pool-sizing alone, and refuses it with --soak or --baseline', () => {
    const o = parseBenchArgs(['--pool-sizing']);
    assert.ok(o !== 'help');
    assert.equal(o.poolSizing, true);
    assert.equal(o.profile, PROFILES.quick);
    assert.throws(() => parseBenchArgs(['--pool-sizing', '--soak', '2']), /runs alone/);
    assert.throws(() => parseBenchArgs(['--pool-sizing', '--baseline']), /runs alone/);
    const plain = parseBenchArgs([]);
    assert.ok(plain !== 'help');
    assert.equal(plain.poolSizing, false);
  });

  it('reports every size with its health p99 and the HTTP thread’s waiting share', () => {
    const md = renderPoolSizing(
      [row(10, 1, 11814, 4.5, 0.17), row(10, 2, 11858, 8.0, 0.26)],
      MACHINE,
      { loadCpus: '0', agentCpus: '1', note: 'taskset' },
      PROFILES.quick,
      '0-1',
    );
    assert.match(md, /# clef-agent pool-sizing report/);
    assert.match(md, /each allowed CPUs 0-1/);
    assert.match(md, /one of the agent’s CPUs/);
    assert.match(md, /\| JIT age 10 keys, 1 worker \| 11814 \|/);
    assert.match(md, /\| JIT age 10 keys, 2 workers \| 50\.0 \| 30\.0 \| 26 % \|/);
  });
});
