/**
 * SPEC §3 "Files the agent trusts", in-process (the tests run as root, uid 0): the token file and
 * the age key file must belong to the agent's user or root and not be writable by group or others;
 * a secret readable by group or others is a warning. (The cache directory: cache-path.test.ts.)
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cleanup, env, load, refuseWith, tempDir, TOKEN } from './helpers.js';

after(cleanup);

const OTHER = 12345;
const FILE_EXPECTED = 'expected a file owned by root and not writable by group or others';
const AGE_KEY = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ';

/** A directory like /tmp: world-writable with the sticky bit. */
function sharedDir(): string {
  const dir = tempDir();
  chmodSync(dir, 0o1777);
  return dir;
}

function secretFile(dir: string, name: string, content: string, mode: number, uid = 0): string {
  const file = join(dir, name);
  writeFileSync(file, content);
  chmodSync(file, mode);
  chownSync(file, uid, uid);
  return file;
}

describe('CLEF_AGENT_TOKEN_FILE: who may write it', () => {
  const tokenEnv = (file: string): ReturnType<typeof env> => env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: file });

  test('a token file another user created first in a shared directory is refused, its token never used', () => {
    const file = secretFile(sharedDir(), 'token', `${TOKEN}\n`, 0o600, OTHER);
    const err = refuseWith(tokenEnv(file), [`CLEF_AGENT_TOKEN_FILE: "${file}" is owned by uid ${OTHER}, not by root; ${FILE_EXPECTED}`]);
    assert.ok(!err.message.includes(TOKEN));
  });
  for (const mode of [0o666, 0o620, 0o602]) {
    const shown = mode.toString(8).padStart(4, '0');
    test(`a token file writable by group or others (mode ${shown}) is refused`, () => {
      const file = secretFile(tempDir(), 'token', TOKEN, mode);
      refuseWith(tokenEnv(file), [`CLEF_AGENT_TOKEN_FILE: "${file}" is writable by group or others (mode ${shown}); ${FILE_EXPECTED}`]);
    });
  }
  test('the target of a symbolic link is judged, and named', () => {
    const dir = tempDir();
    const target = secretFile(dir, 'real-token', TOKEN, 0o600, OTHER);
    symlinkSync(target, join(dir, 'token'));
    refuseWith(tokenEnv(join(dir, 'token')), [
      `CLEF_AGENT_TOKEN_FILE: "${join(dir, 'token')}" (resolved to "${target}") is owned by uid ${OTHER}, not by root; ${FILE_EXPECTED}`,
    ]);
  });
  test('our own token file readable by others is used, with a warning', () => {
    const file = secretFile(tempDir(), 'token', TOKEN, 0o644);
    const c = load(tokenEnv(file));
    assert.equal(c.token, TOKEN);
    assert.deepEqual(c.warnings, [`CLEF_AGENT_TOKEN_FILE "${file}" is readable by group or others (mode 0644); restrict it to 0600 or 0400`]);
  });
  test('our own 0600 or 0400 token file: no warning', () => {
    for (const mode of [0o600, 0o400]) assert.deepEqual(load(tokenEnv(secretFile(tempDir(), 'token', TOKEN, mode))).warnings, []);
  });
  test('a token file the agent creates in a shared directory is its own and is trusted on the next start', () => {
    const file = join(sharedDir(), 'token');
    const created = load(tokenEnv(file));
    assert.equal(created.tokenOrigin, 'generated-file');
    const again = load(tokenEnv(file));
    assert.equal(again.token, created.token);
    assert.deepEqual(again.warnings, []);
  });
});

describe('CLEF_AGENT_AGE_KEY_FILE: who may write it', () => {
  const keyEnv = (file: string): ReturnType<typeof env> => env({ CLEF_AGENT_AGE_KEY_FILE: file });
  test('an age key file owned by another user is refused', () => {
    const file = secretFile(sharedDir(), 'key.txt', AGE_KEY, 0o600, OTHER);
    const err = refuseWith(keyEnv(file), [`CLEF_AGENT_AGE_KEY_FILE: "${file}" is owned by uid ${OTHER}, not by root; ${FILE_EXPECTED}`]);
    assert.ok(!err.message.includes('QQQQ'));
  });
  for (const mode of [0o666, 0o620]) {
    const shown = mode.toString(8).padStart(4, '0');
    test(`an age key file writable by group or others (mode ${shown}) is refused`, () => {
      const file = secretFile(tempDir(), 'key.txt', AGE_KEY, mode);
      refuseWith(keyEnv(file), [`CLEF_AGENT_AGE_KEY_FILE: "${file}" is writable by group or others (mode ${shown}); ${FILE_EXPECTED}`]);
    });
  }
});
