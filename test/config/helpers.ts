/** Shared fixtures for the config tests: a minimal valid environment and exact-message assertions. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ConfigError, loadConfig, type Config, type CpuProbe, type LoadConfigDeps } from '../../src/config/index.js';
import { TempDirs } from '../kit/index.js';

export type Env = Record<string, string | undefined>;

/** 40 visible characters: long enough not to warn. */
export const TOKEN = 'tok_0123456789abcdefghijklmnopqrstuvwxyzAB';

const dirs = new TempDirs('clef-config-');

/** A fresh temp directory, removed by `cleanup()`. */
export const tempDir = (): string => dirs.make();
export const cleanup = (): void => dirs.removeAll();

/** A CPU probe with no cgroup limit and 4 CPUs, so the default worker count is 3 everywhere. */
export function fourCpus(): CpuProbe {
  return { cgroupRoot: tempDir(), selfCgroupFile: join(tempDir(), 'absent'), availableParallelism: () => 4 };
}

/** The smallest valid environment, plus overrides (an `undefined` override unsets a variable). */
export function env(overrides: Env = {}): Env {
  const e: Env = { CLEF_AGENT_SOURCE: '/srv/clef/artifact.json', CLEF_AGENT_TOKEN: TOKEN, ...overrides };
  for (const [k, v] of Object.entries(e)) if (v === undefined) delete e[k];
  return e;
}

export function load(e: Env, deps: LoadConfigDeps = {}): Config {
  return loadConfig(e, { cwd: '/work/app', cpu: fourCpus(), ...deps });
}

/** Asserts loadConfig refuses `e` and returns the error. */
export function refuse(e: Env, deps: LoadConfigDeps = {}): ConfigError {
  let caught: unknown;
  try {
    load(e, deps);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  return caught;
}

/** Asserts loadConfig refuses `e` with exactly these lines, in this order. */
export function refuseWith(e: Env, lines: readonly string[], deps: LoadConfigDeps = {}): ConfigError {
  const err = refuse(e, deps);
  assert.deepEqual(err.message.split('\n'), lines);
  return err;
}
