/** The bench's metrics-overhead mode, without processes or load: how `--metrics-overhead` parses. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { PROFILES, parseBenchArgs } from '../../bench/lib/options.js';

describe('bench metrics overhead', () => {
  it('parses --metrics-overhead alone, with a profile, and refuses it with another mode or --baseline', () => {
    const o = parseBenchArgs(['--metrics-overhead']);
    assert.ok(o !== 'help');
    assert.equal(o.metricsOverhead, true);
    assert.equal(o.profile, PROFILES.quick);
    const short = parseBenchArgs(['--metrics-overhead', '--seconds', '2', '--reps', '1']);
    assert.ok(short !== 'help');
    assert.deepEqual([short.profile.seconds, short.profile.reps], [2, 1]);
    for (const other of [['--pool-sizing'], ['--soak', '2'], ['--baseline']])
      assert.throws(() => parseBenchArgs(['--metrics-overhead', ...other]), /runs alone/);
    const plain = parseBenchArgs([]);
    assert.ok(plain !== 'help');
    assert.equal(plain.metricsOverhead, false);
  });
});
