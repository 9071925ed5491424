/** CLEF_AGENT_TOKEN and CLEF_AGENT_TOKEN_FILE (SPEC §3): precedence, validation, file read and creation. */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../../src/config/index.js';
import { BOTH_SET_WARNING, createTokenFile, SHORT_FILE_TOKEN_WARNING, SHORT_TOKEN_WARNING } from '../../src/config/token.js';
import { cleanup, env, load, refuseWith, tempDir, TOKEN } from './helpers.js';

after(cleanup);

const EXPECTED = 'expected a bearer token of visible ASCII characters without spaces (at least 32 recommended, at most 1024)';
const FILE_EXPECTED = 'expected a path to a regular file holding the bearer token, or a path where it can be created';

describe('CLEF_AGENT_TOKEN', () => {
  test('CLEF_AGENT_TOKEN: is used as given', () => {
    const c = load(env());
    assert.equal(c.token, TOKEN);
    assert.equal(c.tokenOrigin, 'env');
    assert.equal(c.tokenFile, undefined);
    assert.deepEqual(c.warnings, []);
  });
  test('CLEF_AGENT_TOKEN: generated as 32 random bytes in hex when unset', () => {
    const a = load(env({ CLEF_AGENT_TOKEN: undefined }));
    assert.match(a.token ?? '', /^[0-9a-f]{64}$/);
    assert.equal(a.tokenOrigin, 'generated');
    assert.notEqual(load(env({ CLEF_AGENT_TOKEN: undefined })).token, a.token);
  });
  test('CLEF_AGENT_TOKEN: a token under 32 characters is accepted with a warning', () => {
    const c = load(env({ CLEF_AGENT_TOKEN: 'short-token' }));
    assert.equal(c.token, 'short-token');
    assert.deepEqual(c.warnings, [SHORT_TOKEN_WARNING]);
    assert.equal(SHORT_TOKEN_WARNING, 'CLEF_AGENT_TOKEN is shorter than 32 characters; use at least 32 random characters');
  });
  test('CLEF_AGENT_TOKEN: exactly 32 characters gives no warning', () => assert.deepEqual(load(env({ CLEF_AGENT_TOKEN: 'x'.repeat(32) })).warnings, []));
  test('CLEF_AGENT_TOKEN: rejects an empty value', () => void refuseWith(env({ CLEF_AGENT_TOKEN: '' }), [`CLEF_AGENT_TOKEN: is empty; ${EXPECTED}`]));
  for (const [what, bad] of [
    ['a space', 'abc def0123456789abcdef0123456789'],
    ['a control character', 'abc\u0007def0123456789abcdef0123456789'],
    ['a newline', 'abcdef0123456789abcdef0123456789\n'],
    ['a non-ASCII character', 'abcdéf0123456789abcdef0123456789'],
  ] as const) {
    test(`CLEF_AGENT_TOKEN: rejects ${what} without echoing the token`, () => {
      const err = refuseWith(env({ CLEF_AGENT_TOKEN: bad }), [`CLEF_AGENT_TOKEN: contains a space, a control character or a non-ASCII character; ${EXPECTED}`]);
      assert.ok(!err.message.includes('0123456789'));
    });
  }
  test('CLEF_AGENT_TOKEN: rejects more than 1024 characters', () =>
    void refuseWith(env({ CLEF_AGENT_TOKEN: 'k'.repeat(1025) }), [`CLEF_AGENT_TOKEN: is longer than 1024 characters; ${EXPECTED}`]));
});

describe('CLEF_AGENT_TOKEN_FILE', () => {
  test('CLEF_AGENT_TOKEN_FILE: reads an existing file, trimming the trailing newline', () => {
    const file = join(tempDir(), 'token');
    writeFileSync(file, `${TOKEN}\n`);
    const c = load(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: file }));
    assert.equal(c.token, TOKEN);
    assert.equal(c.tokenOrigin, 'file');
    assert.equal(c.tokenFile, file);
  });
  test('CLEF_AGENT_TOKEN_FILE: resolves a relative path against the working directory', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'token'), TOKEN);
    assert.equal(load(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: 'token' }), { cwd: dir }).tokenFile, join(dir, 'token'));
  });
  test('CLEF_AGENT_TOKEN_FILE: a short token in the file is accepted with a warning', () => {
    const file = join(tempDir(), 'token');
    writeFileSync(file, 'short\r\n', { mode: 0o600 });
    const c = load(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: file }));
    assert.equal(c.token, 'short');
    assert.deepEqual(c.warnings, [SHORT_FILE_TOKEN_WARNING]);
  });
  test('CLEF_AGENT_TOKEN_FILE: rejects an empty file', () => {
    const file = join(tempDir(), 'token');
    writeFileSync(file, '\n');
    refuseWith(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: file }), [`CLEF_AGENT_TOKEN_FILE: the token in "${file}" is empty; ${EXPECTED}`]);
  });
  test('CLEF_AGENT_TOKEN_FILE: rejects a token with inner spaces, without echoing it', () => {
    const file = join(tempDir(), 'token');
    writeFileSync(file, 'Bearer SECRET0123456789abcdef0123456789\n');
    const err = refuseWith(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: file }), [
      `CLEF_AGENT_TOKEN_FILE: the token in "${file}" contains a space, a control character or a non-ASCII character; ${EXPECTED}`,
    ]);
    assert.ok(!err.message.includes('SECRET'));
  });
  test('CLEF_AGENT_TOKEN_FILE: reads through a symbolic link to a regular file (Kubernetes secret volumes)', () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'real'), `${TOKEN}\n`);
    symlinkSync(join(dir, 'real'), join(dir, 'token'));
    const c = load(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: join(dir, 'token') }));
    assert.equal(c.token, TOKEN);
    assert.equal(c.tokenOrigin, 'file');
  });
  test('CLEF_AGENT_TOKEN_FILE: refuses a dangling symbolic link and creates nothing through it', () => {
    const dir = tempDir();
    symlinkSync(join(dir, 'target'), join(dir, 'token'));
    refuseWith(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: join(dir, 'token') }), [
      `CLEF_AGENT_TOKEN_FILE: "${join(dir, 'token')}" is a symbolic link whose target cannot be read (ENOENT); ${FILE_EXPECTED} (the token file is never created through a symbolic link)`,
    ]);
    assert.equal(existsSync(join(dir, 'target')), false);
  });
  test('CLEF_AGENT_TOKEN_FILE: refuses a directory', () => {
    const dir = tempDir();
    refuseWith(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: dir }), [`CLEF_AGENT_TOKEN_FILE: "${dir}" is not a regular file; ${FILE_EXPECTED}`]);
  });
  test('CLEF_AGENT_TOKEN_FILE: refuses a file larger than 4096 bytes', () => {
    const file = join(tempDir(), 'token');
    writeFileSync(file, 'a'.repeat(4097));
    refuseWith(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: file }), [
      `CLEF_AGENT_TOKEN_FILE: "${file}" is larger than 4096 bytes; ${FILE_EXPECTED}`,
    ]);
  });
  test('CLEF_AGENT_TOKEN_FILE: rejects an empty value', () =>
    void refuseWith(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: '' }), [`CLEF_AGENT_TOKEN_FILE: is empty; ${FILE_EXPECTED}`]));
  test('CLEF_AGENT_TOKEN_FILE: a missing file is created with a generated token, mode 0600', () => {
    const file = join(tempDir(), 'token');
    const c = load(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: file }));
    assert.match(c.token ?? '', /^[0-9a-f]{64}$/);
    assert.equal(c.tokenOrigin, 'generated-file');
    assert.equal(c.tokenFile, file);
    assert.equal(readFileSync(file, 'utf8'), c.token);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    // The next start reads the same token back.
    assert.equal(load(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: file })).token, c.token);
  });
  test('CLEF_AGENT_TOKEN_FILE: is mode 0600 even under a permissive umask', () => {
    const file = join(tempDir(), 'token');
    const old = process.umask(0o000);
    try {
      load(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: file }));
    } finally {
      process.umask(old);
    }
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });
  test('CLEF_AGENT_TOKEN_FILE: is not created when another setting is invalid', () => {
    const file = join(tempDir(), 'token');
    refuseWith(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: file, CLEF_AGENT_PORT: 'x' }), [
      'CLEF_AGENT_PORT: "x" is not an integer; expected an integer from 0 to 65535',
    ]);
    assert.equal(existsSync(file), false);
  });
  test('CLEF_AGENT_TOKEN_FILE: creation fails clearly when the directory is missing', () => {
    const file = join(tempDir(), 'missing', 'token');
    refuseWith(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKEN_FILE: file }), [
      `CLEF_AGENT_TOKEN_FILE: "${file}" cannot be created (ENOENT); ${FILE_EXPECTED}, in an existing directory this process can write to`,
    ]);
  });
  test('CLEF_AGENT_TOKEN_FILE: creation is exclusive and never overwrites a file', () => {
    const dir = tempDir();
    const file = join(dir, 'token');
    writeFileSync(file, 'existing');
    assert.throws(
      () => createTokenFile(file, 'new-token'),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.message === `CLEF_AGENT_TOKEN_FILE: "${file}" cannot be created (EEXIST); ${FILE_EXPECTED}, in an existing directory this process can write to`,
    );
    assert.equal(readFileSync(file, 'utf8'), 'existing');
    mkdirSync(join(dir, 'sub'));
    symlinkSync(join(dir, 'sub', 'elsewhere'), join(dir, 'link'));
    assert.throws(() => createTokenFile(join(dir, 'link'), 'new-token'), ConfigError);
    assert.equal(existsSync(join(dir, 'sub', 'elsewhere')), false);
  });
  test('CLEF_AGENT_TOKEN_FILE: with CLEF_AGENT_TOKEN set, the env token wins with a warning and no file is created', () => {
    const file = join(tempDir(), 'token');
    const c = load(env({ CLEF_AGENT_TOKEN_FILE: file }));
    assert.equal(c.token, TOKEN);
    assert.equal(c.tokenOrigin, 'env');
    assert.equal(c.tokenFile, undefined);
    assert.deepEqual(c.warnings, [BOTH_SET_WARNING]);
    assert.equal(existsSync(file), false);
  });
});
