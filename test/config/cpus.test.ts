/** The default worker count honours the cgroup CPU quota (v2 cpu.max, v1 cfs quota/period). */
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { availableCpus, cgroupCpuLimit, defaultWorkerCount, parseCfsQuota, parseCpuMax } from '../../src/config/cpus.js';
import { cleanup, env, load, tempDir } from './helpers.js';

after(cleanup);

/** A fake cgroup tree: `files` maps relative paths to contents; `self` is /proc/self/cgroup. */
function fakeCgroup(files: Record<string, string>, self?: string): { cgroupRoot: string; selfCgroupFile: string } {
  const root = tempDir();
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), content);
  }
  const selfCgroupFile = join(tempDir(), 'cgroup');
  if (self !== undefined) writeFileSync(selfCgroupFile, self);
  return { cgroupRoot: root, selfCgroupFile };
}

describe('cgroup quota parsing', () => {
  test('CLEF_AGENT_WORKERS: cpu.max "max 100000" is no limit', () => assert.equal(parseCpuMax('max 100000\n'), undefined));
  test('CLEF_AGENT_WORKERS: cpu.max "50000 100000" is 1 CPU (rounded up)', () => assert.equal(parseCpuMax('50000 100000\n'), 1));
  test('CLEF_AGENT_WORKERS: cpu.max "200000 100000" is 2 CPUs', () => assert.equal(parseCpuMax('200000 100000'), 2));
  test('CLEF_AGENT_WORKERS: cpu.max "150000 100000" is 2 CPUs', () => assert.equal(parseCpuMax('150000 100000'), 2));
  test('CLEF_AGENT_WORKERS: malformed cpu.max is ignored', () => {
    for (const bad of ['', 'garbage', '100000', '0 100000', '100000 0', '-1 100000']) assert.equal(parseCpuMax(bad), undefined, bad);
  });
  test('CLEF_AGENT_WORKERS: v1 quota -1 is no limit', () => assert.equal(parseCfsQuota('-1\n', '100000\n'), undefined));
  test('CLEF_AGENT_WORKERS: v1 quota 250000/100000 is 3 CPUs', () => assert.equal(parseCfsQuota('250000\n', '100000\n'), 3));
  test('CLEF_AGENT_WORKERS: malformed v1 files are ignored', () => assert.equal(parseCfsQuota('x', '100000'), undefined));
});

describe('cgroup limit discovery', () => {
  test('CLEF_AGENT_WORKERS: v2 cpu.max at the mount root (container with its own cgroup namespace)', () =>
    assert.equal(cgroupCpuLimit(fakeCgroup({ 'cpu.max': '300000 100000\n' }, '0::/\n')), 3));
  test('CLEF_AGENT_WORKERS: v2 "max" means no limit', () => assert.equal(cgroupCpuLimit(fakeCgroup({ 'cpu.max': 'max 100000\n' }, '0::/\n')), undefined));
  test('CLEF_AGENT_WORKERS: v2 follows /proc/self/cgroup and takes the smallest limit up the tree', () => {
    const probe = fakeCgroup(
      { 'kubepods.slice/cpu.max': '200000 100000\n', 'kubepods.slice/pod1/cpu.max': '400000 100000\n', 'kubepods.slice/pod1/ctr/cpu.max': 'max 100000\n' },
      '0::/kubepods.slice/pod1/ctr\n',
    );
    assert.equal(cgroupCpuLimit(probe), 2);
  });
  test('CLEF_AGENT_WORKERS: v2 without a membership file reads the mount root', () =>
    assert.equal(cgroupCpuLimit(fakeCgroup({ 'cpu.max': '100000 100000' })), 1));
  test('CLEF_AGENT_WORKERS: v1 cpu,cpuacct quota and period', () =>
    assert.equal(
      cgroupCpuLimit(
        fakeCgroup(
          { 'cpu,cpuacct/docker/abc/cpu.cfs_quota_us': '150000\n', 'cpu,cpuacct/docker/abc/cpu.cfs_period_us': '100000\n' },
          '4:cpu,cpuacct:/docker/abc\n',
        ),
      ),
      2,
    ));
  test('CLEF_AGENT_WORKERS: v1 quota -1 means no limit', () =>
    assert.equal(cgroupCpuLimit(fakeCgroup({ 'cpu/cpu.cfs_quota_us': '-1\n', 'cpu/cpu.cfs_period_us': '100000\n' }, '3:cpu:/\n')), undefined));
  test('CLEF_AGENT_WORKERS: no cgroup files at all means no limit', () => assert.equal(cgroupCpuLimit(fakeCgroup({})), undefined));
});

describe('default worker count', () => {
  const cpus = (n: number) => () => n;
  test('CLEF_AGENT_WORKERS: "50000 100000" is 1 CPU, so 1 worker', () =>
    assert.equal(defaultWorkerCount({ ...fakeCgroup({ 'cpu.max': '50000 100000' }), availableParallelism: cpus(8) }), 1));
  test('CLEF_AGENT_WORKERS: "200000 100000" on 4 CPUs is 2 CPUs, so 1 worker', () =>
    assert.equal(defaultWorkerCount({ ...fakeCgroup({ 'cpu.max': '200000 100000' }), availableParallelism: cpus(4) }), 1));
  test('CLEF_AGENT_WORKERS: "max" on 4 CPUs is 3 workers', () =>
    assert.equal(defaultWorkerCount({ ...fakeCgroup({ 'cpu.max': 'max 100000' }), availableParallelism: cpus(4) }), 3));
  test('CLEF_AGENT_WORKERS: a quota above the CPU count is capped by the CPUs', () =>
    assert.equal(availableCpus({ ...fakeCgroup({ 'cpu.max': '1600000 100000' }), availableParallelism: cpus(4) }), 4));
  test('CLEF_AGENT_WORKERS: v1 quota of 4 CPUs on 16 is 3 workers', () =>
    assert.equal(
      defaultWorkerCount({
        ...fakeCgroup({ 'cpu/cpu.cfs_quota_us': '400000', 'cpu/cpu.cfs_period_us': '100000' }, '3:cpu:/\n'),
        availableParallelism: cpus(16),
      }),
      3,
    ));
  test('CLEF_AGENT_WORKERS: the default is capped at 64', () => assert.equal(defaultWorkerCount({ ...fakeCgroup({}), availableParallelism: cpus(256) }), 64));
  test('CLEF_AGENT_WORKERS: loadConfig uses the injected probe for the default', () =>
    assert.equal(load(env(), { cpu: { ...fakeCgroup({ 'cpu.max': '50000 100000' }, '0::/\n'), availableParallelism: cpus(32) } }).workers, 1));
  test('CLEF_AGENT_WORKERS: the real probe gives a count between 1 and 64', () => {
    const n = defaultWorkerCount();
    assert.ok(Number.isInteger(n) && n >= 1 && n <= 64);
  });
});
