/** The bench's change-notification mode, without processes or load: how `--notify` parses and what its report says. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { notifyLines, renderNotify, type NotifyResult } from '../../bench/lib/notify.js';
import { PROFILES, parseBenchArgs } from '../../bench/lib/options.js';
import { MACHINE, tableRow } from './helpers.js';

function result(over: Partial<NotifyResult> = {}): NotifyResult {
  return {
    rows: [
      tableRow('cached age 10 keys, 304', 20000, { non2xx: 100000 }),
      tableRow('JIT age 10 keys, 304', 19000, { non2xx: 95000 }),
      tableRow('cached age 10 keys, 200, no waiters', 18000),
      tableRow('cached age 10 keys, 200, 1000 idle waiters', 17500),
    ],
    jit304OverCached304: 0.95,
    jit304WorkerTasks: 0,
    waitersRssMiB: 3.25,
    waitersRpsRatio: 17500 / 18000,
    waiters: 1000,
    ...over,
  };
}

describe('bench notify', () => {
  it('parses --notify alone, with a profile, and refuses it with another mode or --baseline', () => {
    const o = parseBenchArgs(['--notify', '--seconds', '1', '--reps', '1', '--warmup', '0']);
    assert.ok(o !== 'help');
    assert.equal(o.notify, true);
    assert.deepEqual([o.profile.seconds, o.profile.reps, o.profile.warmupSeconds], [1, 1, 0]);
    const quick = parseBenchArgs(['--notify']);
    assert.ok(quick !== 'help');
    assert.equal(quick.profile, PROFILES.quick);
    for (const other of [['--pool-sizing'], ['--metrics-overhead'], ['--footprint'], ['--soak', '2'], ['--baseline']])
      assert.throws(() => parseBenchArgs(['--notify', ...other]), /runs alone/);
    const plain = parseBenchArgs([]);
    assert.ok(plain !== 'help');
    assert.equal(plain.notify, false);
  });

  it('reports each figure beside its target: PASS when met', () => {
    assert.deepEqual(notifyLines(result()), [
      'PASS JIT 304 ÷ cached 304 req/s = 0.950 (target ≥ 0.9)',
      'PASS worker tasks during the JIT 304 load: 0 (target 0)',
      'PASS RSS with 1000 idle long polls: +3.3 MiB (target < 10 MiB)',
      'PASS cached req/s with 1000 idle long polls ÷ without = 0.972 (target within 5 %)',
    ]);
  });

  it('MISS when a target is missed, in either direction for the req/s change; a negative RSS change keeps its sign', () => {
    const lines = notifyLines(result({ jit304OverCached304: 0.8, jit304WorkerTasks: 3, waitersRssMiB: -1.5, waitersRpsRatio: 1.08 }));
    assert.match(lines[0] ?? '', /^MISS JIT 304 ÷ cached 304 req\/s = 0\.800/);
    assert.match(lines[1] ?? '', /^MISS worker tasks during the JIT 304 load: 3/);
    assert.match(lines[2] ?? '', /^PASS RSS with 1000 idle long polls: -1\.5 MiB/);
    assert.match(lines[3] ?? '', /^MISS cached req\/s .* = 1\.080/);
    assert.match(notifyLines(result({ waitersRssMiB: 12 }))[2] ?? '', /^MISS .*\+12\.0 MiB/);
    assert.match(notifyLines(result({ waitersRpsRatio: 0.94 }))[3] ?? '', /^MISS/);
  });

  it('renders a markdown report with the machine, the table and the verdicts', () => {
    const md = renderNotify(result(), MACHINE, PROFILES.quick);
    assert.match(md, /^# clef-agent change-notification report/);
    assert.match(md, /commit abc1234/);
    assert.match(md, /\| JIT age 10 keys, 304 \| 19000 \|/);
    assert.match(md, /\| cached age 10 keys, 200, 1000 idle waiters \| 17500 \|/);
    assert.match(md, /- PASS JIT 304 ÷ cached 304 req\/s = 0\.950/);
  });
});
