/**
 * CLEF_AGENT_CACHE_PATH at start-up (SPEC §3, §4.4), in-process as root (uid 0): an existing
 * directory is never chmod-ed; one group or others can write gets a private `clef-agent-<euid>`
 * subdirectory, never adopted when someone else made it; another user's directory is refused.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, statSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cleanup, env, load, refuseWith, tempDir } from './helpers.js';

after(cleanup);

const OTHER = 12345;
const DIR_EXPECTED =
  'expected a directory owned by root that group and others cannot write (the agent then uses a subdirectory of its own), or a missing path to create';

/** A directory like /tmp: world-writable with the sticky bit. */
function sharedDir(): string {
  const dir = tempDir();
  chmodSync(dir, 0o1777);
  return dir;
}

describe('CLEF_AGENT_CACHE_PATH: the directory chosen at start-up', () => {
  const cacheEnv = (dir: string): ReturnType<typeof env> => env({ CLEF_AGENT_CACHE_PATH: dir });

  test('a missing directory is created 0700, parents too', () => {
    const dir = join(tempDir(), 'a', 'b');
    assert.equal(load(cacheEnv(dir)).cachePath, dir);
    assert.equal(statSync(dir).mode & 0o7777, 0o700);
  });
  test('a missing directory is not created while another setting is invalid', () => {
    const dir = join(tempDir(), 'cache');
    refuseWith(env({ CLEF_AGENT_CACHE_PATH: dir, CLEF_AGENT_PORT: 'x' }), ['CLEF_AGENT_PORT: "x" is not an integer; expected an integer from 0 to 65535']);
    assert.equal(existsSync(dir), false);
  });
  test('our own 0755 directory is used as is: never chmod-ed', () => {
    const dir = tempDir();
    chmodSync(dir, 0o755);
    assert.equal(load(cacheEnv(dir)).cachePath, dir);
    assert.equal(statSync(dir).mode & 0o7777, 0o755);
  });
  for (const mode of [0o1777, 0o777, 0o770]) {
    const shown = mode.toString(8).padStart(4, '0');
    test(`a directory group or others can write (mode ${shown}): its mode is kept, a private clef-agent-0 inside it is used`, () => {
      const dir = tempDir();
      chmodSync(dir, mode);
      const c = load(cacheEnv(dir));
      assert.equal(c.cachePath, join(dir, 'clef-agent-0'));
      assert.equal(statSync(dir).mode & 0o7777, mode);
      const sub = lstatSync(join(dir, 'clef-agent-0'));
      assert.ok(sub.isDirectory());
      assert.equal(sub.mode & 0o7777, 0o700);
      // The next start reuses it.
      assert.equal(load(cacheEnv(dir)).cachePath, join(dir, 'clef-agent-0'));
    });
  }
  const privateRefusal = (sub: string, problem: string): string =>
    `CLEF_AGENT_CACHE_PATH: "${sub}" (the agent's private cache directory) ${problem}; expected "${sub}" absent (the agent creates it) or a directory owned by uid 0 with mode 0700`;
  test('a private subdirectory another user made first is refused', () => {
    const dir = sharedDir();
    const sub = join(dir, 'clef-agent-0');
    mkdirSync(sub, { mode: 0o700 });
    chownSync(sub, OTHER, OTHER);
    refuseWith(cacheEnv(dir), [privateRefusal(sub, `is owned by uid ${OTHER}`)]);
  });
  test('a private subdirectory open to others, or a symbolic link in its place, is refused', () => {
    const open = sharedDir();
    mkdirSync(join(open, 'clef-agent-0'), { mode: 0o700 });
    chmodSync(join(open, 'clef-agent-0'), 0o755);
    refuseWith(cacheEnv(open), [privateRefusal(join(open, 'clef-agent-0'), 'is accessible to group or others (mode 0755)')]);
    const linked = sharedDir();
    symlinkSync(tempDir(), join(linked, 'clef-agent-0'));
    refuseWith(cacheEnv(linked), [privateRefusal(join(linked, 'clef-agent-0'), 'is a symbolic link')]);
  });
  test('a directory owned by another user is refused, even with a tight mode', () => {
    const dir = tempDir();
    chownSync(dir, OTHER, OTHER);
    refuseWith(cacheEnv(dir), [`CLEF_AGENT_CACHE_PATH: "${dir}" is owned by uid ${OTHER}, not by root; ${DIR_EXPECTED}`]);
    chmodSync(dir, 0o1777);
    refuseWith(cacheEnv(dir), [`CLEF_AGENT_CACHE_PATH: "${dir}" is owned by uid ${OTHER}, not by root; ${DIR_EXPECTED}`]);
    assert.equal(statSync(dir).mode & 0o7777, 0o1777);
  });
  test('a symbolic link to a directory is followed once: the real path is what the workers use', () => {
    const real = tempDir();
    const link = join(tempDir(), 'cache');
    symlinkSync(real, link);
    assert.equal(load(cacheEnv(link)).cachePath, real);
  });
});
