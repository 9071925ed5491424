/**
 * SPEC §3 through the real CLI: key material and the bearer token (CLEF_AGENT_AGE_KEY, _AGE_KEY_FILE,
 * _TOKEN, _TOKEN_FILE, _VERIFY_KEY). Every invalid value: message on stderr, exit 2, nothing
 * listening, and the secret value never echoed.
 */
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { assertRefused, assertRefusedBeforeListening, baseEnv, runCli } from '../helpers/config-cli.js';
import { suiteTempDirs } from '../kit/index.js';

const AGE_FILE_EXPECTED = 'a path to a readable age identity file';
const TOKEN_EXPECTED = 'a bearer token of visible ASCII characters without spaces (at least 32 recommended, at most 1024)';
const TOKEN_FILE_EXPECTED = 'a path to a regular file holding the bearer token, or a path where it can be created';
const VERIFY_EXPECTED = 'a base64 DER SubjectPublicKeyInfo of an Ed25519 or EC P-256 public key';

function spki(type: 'rsa' | 'p384' | 'x25519'): string {
  const pair =
    type === 'rsa'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : type === 'p384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : generateKeyPairSync('x25519');
  return pair.publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
}

describe('§3 config: keys and token', { concurrency: 6 }, () => {
  const dir = suiteTempDirs('clef-config-').make();
  let base: Record<string, string>;
  before(async () => {
    base = await baseEnv(dir);
  });

  it('§3 CLEF_AGENT_AGE_KEY + CLEF_AGENT_AGE_KEY_FILE: both set → refused, exit 2, key not echoed', { timeout: 30_000 }, async () => {
    const file = join(dir, 'both.key');
    writeFileSync(file, 'x', { mode: 0o600 });
    assertRefused(
      await runCli(base, { CLEF_AGENT_AGE_KEY_FILE: file }),
      ['CLEF_AGENT_AGE_KEY: is set together with CLEF_AGENT_AGE_KEY_FILE; expected only one of CLEF_AGENT_AGE_KEY or CLEF_AGENT_AGE_KEY_FILE'],
      [base['CLEF_AGENT_AGE_KEY'] as string, 'AGE-SECRET-KEY'],
    );
  });

  it('§3 CLEF_AGENT_AGE_KEY: empty → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_AGE_KEY: '' }), ['CLEF_AGENT_AGE_KEY: is empty; expected an age secret key (AGE-SECRET-KEY-1…)']);
  });

  it('§3 CLEF_AGENT_AGE_KEY: not an age key → refused before listening, exit 2, value not echoed', { timeout: 30_000 }, async () => {
    assertRefusedBeforeListening(
      await runCli(base, { CLEF_AGENT_AGE_KEY: 'my-InlineKeySecret-value' }),
      /^clef-agent: CLEF_AGENT_AGE_KEY is not a valid age secret key\b.*expected AGE-SECRET-KEY-1… \(X25519\)\n$/,
      ['InlineKeySecret'],
    );
  });

  it('§3 CLEF_AGENT_AGE_KEY: a corrupted age key (bad checksum) → refused before listening, exit 2, value not echoed', { timeout: 30_000 }, async () => {
    const corrupted = (base['CLEF_AGENT_AGE_KEY'] as string).replace(/.{6}$/, 'QQQQQQ');
    assertRefusedBeforeListening(await runCli(base, { CLEF_AGENT_AGE_KEY: corrupted }), /CLEF_AGENT_AGE_KEY is not a valid age secret key/, [
      corrupted.slice(16),
    ]);
  });

  it('§3 CLEF_AGENT_AGE_KEY_FILE: a missing file → refused, exit 2', { timeout: 30_000 }, async () => {
    const file = join(dir, 'missing.key');
    assertRefused(await runCli(base, { CLEF_AGENT_AGE_KEY: null, CLEF_AGENT_AGE_KEY_FILE: file }), [
      `CLEF_AGENT_AGE_KEY_FILE: ${JSON.stringify(file)} does not exist; expected ${AGE_FILE_EXPECTED}`,
    ]);
  });

  it('§3 CLEF_AGENT_AGE_KEY_FILE: a directory → refused, exit 2', { timeout: 30_000 }, async () => {
    const sub = join(dir, 'keydir');
    mkdirSync(sub);
    assertRefused(await runCli(base, { CLEF_AGENT_AGE_KEY: null, CLEF_AGENT_AGE_KEY_FILE: sub }), [
      `CLEF_AGENT_AGE_KEY_FILE: ${JSON.stringify(sub)} is not a regular file; expected ${AGE_FILE_EXPECTED}`,
    ]);
  });

  it('§3 CLEF_AGENT_AGE_KEY_FILE: an empty file → refused, exit 2', { timeout: 30_000 }, async () => {
    const file = join(dir, 'empty.key');
    writeFileSync(file, '', { mode: 0o600 });
    assertRefused(await runCli(base, { CLEF_AGENT_AGE_KEY: null, CLEF_AGENT_AGE_KEY_FILE: file }), [
      `CLEF_AGENT_AGE_KEY_FILE: ${JSON.stringify(file)} is empty; expected ${AGE_FILE_EXPECTED}`,
    ]);
  });

  it('§3 CLEF_AGENT_AGE_KEY_FILE: a file without an age key → refused before listening, exit 2, content not echoed', { timeout: 30_000 }, async () => {
    const file = join(dir, 'garbage.key');
    writeFileSync(file, '# comment\nNotAnAgeKey-FileSecret-123\n', { mode: 0o600 });
    assertRefusedBeforeListening(
      await runCli(base, { CLEF_AGENT_AGE_KEY: null, CLEF_AGENT_AGE_KEY_FILE: file }),
      /CLEF_AGENT_AGE_KEY_FILE .*does not contain a valid age secret key/,
      ['FileSecret'],
    );
  });

  it('§3 CLEF_AGENT_TOKEN: a token with a space → refused, exit 2, token not echoed', { timeout: 30_000 }, async () => {
    assertRefused(
      await runCli(base, { CLEF_AGENT_TOKEN: 'Spaced Token-Secret-abcdefghijklmnopqrstuvwxyz' }),
      [`CLEF_AGENT_TOKEN: contains a space, a control character or a non-ASCII character; expected ${TOKEN_EXPECTED}`],
      ['Spaced', 'Token-Secret'],
    );
  });

  it('§3 CLEF_AGENT_TOKEN: empty → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_TOKEN: '' }), [`CLEF_AGENT_TOKEN: is empty; expected ${TOKEN_EXPECTED}`]);
  });

  it('§3 CLEF_AGENT_TOKEN: longer than 1024 characters → refused, exit 2, token not echoed', { timeout: 30_000 }, async () => {
    const long = 'LongTokenSecret' + 'x'.repeat(1100);
    assertRefused(
      await runCli(base, { CLEF_AGENT_TOKEN: long }),
      [`CLEF_AGENT_TOKEN: is longer than 1024 characters; expected ${TOKEN_EXPECTED}`],
      ['LongTokenSecret'],
    );
  });

  it('§3 CLEF_AGENT_TOKEN_FILE: a directory → refused, exit 2', { timeout: 30_000 }, async () => {
    const sub = join(dir, 'tokdir');
    mkdirSync(sub);
    assertRefused(await runCli(base, { CLEF_AGENT_TOKEN: null, CLEF_AGENT_TOKEN_FILE: sub }), [
      `CLEF_AGENT_TOKEN_FILE: ${JSON.stringify(sub)} is not a regular file; expected ${TOKEN_FILE_EXPECTED}`,
    ]);
  });

  it('§3 CLEF_AGENT_TOKEN_FILE: a file holding an invalid token → refused, exit 2, content not echoed', { timeout: 30_000 }, async () => {
    const file = join(dir, 'bad.token');
    writeFileSync(file, 'File Token-Secret-With-Space\n', { mode: 0o600 });
    assertRefused(
      await runCli(base, { CLEF_AGENT_TOKEN: null, CLEF_AGENT_TOKEN_FILE: file }),
      [
        `CLEF_AGENT_TOKEN_FILE: the token in ${JSON.stringify(file)} contains a space, a control character or a non-ASCII character; expected ${TOKEN_EXPECTED}`,
      ],
      ['Token-Secret'],
    );
  });

  it('§3 CLEF_AGENT_TOKEN_FILE: a dangling symbolic link → refused, exit 2, and nothing is created through it', { timeout: 30_000 }, async () => {
    const link = join(dir, 'dangling.token');
    const target = join(dir, 'nowhere', 'target.token');
    symlinkSync(target, link);
    const r = await runCli(base, { CLEF_AGENT_TOKEN: null, CLEF_AGENT_TOKEN_FILE: link });
    assertRefused(r, [
      `CLEF_AGENT_TOKEN_FILE: ${JSON.stringify(link)} is a symbolic link whose target cannot be read (ENOENT); expected ${TOKEN_FILE_EXPECTED} (the token file is never created through a symbolic link)`,
    ]);
    assert.equal(existsSync(target), false);
  });

  it('§3 CLEF_AGENT_TOKEN_FILE: a refused start-up does not create the token file', { timeout: 30_000 }, async () => {
    const file = join(dir, 'not-created.token');
    const r = await runCli(base, { CLEF_AGENT_TOKEN: null, CLEF_AGENT_TOKEN_FILE: file, CLEF_AGENT_PORT: 'eighty' });
    assertRefused(r, ['CLEF_AGENT_PORT: "eighty" is not an integer; expected an integer from 0 to 65535']);
    assert.equal(existsSync(file), false);
  });

  it('§3 CLEF_AGENT_VERIFY_KEY: an RSA key → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_VERIFY_KEY: spki('rsa') }), [`CLEF_AGENT_VERIFY_KEY: is an RSA key; expected ${VERIFY_EXPECTED}`]);
  });

  it('§3 CLEF_AGENT_VERIFY_KEY: an EC P-384 key → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_VERIFY_KEY: spki('p384') }), [
      `CLEF_AGENT_VERIFY_KEY: is an EC key on curve P-384 (secp384r1); expected ${VERIFY_EXPECTED}`,
    ]);
  });

  it('§3 CLEF_AGENT_VERIFY_KEY: an X25519 key → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_VERIFY_KEY: spki('x25519') }), [`CLEF_AGENT_VERIFY_KEY: is an X25519 key; expected ${VERIFY_EXPECTED}`]);
  });

  it('§3 CLEF_AGENT_VERIFY_KEY: not base64 → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_VERIFY_KEY: 'not*base64!' }), [`CLEF_AGENT_VERIFY_KEY: is not valid base64; expected ${VERIFY_EXPECTED}`]);
  });

  it('§3 CLEF_AGENT_VERIFY_KEY: a private key → refused, exit 2, never echoed', { timeout: 30_000 }, async () => {
    const priv = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
    assertRefused(
      await runCli(base, { CLEF_AGENT_VERIFY_KEY: priv }),
      [`CLEF_AGENT_VERIFY_KEY: is a private key; expected ${VERIFY_EXPECTED}`],
      [priv, priv.slice(-20)],
    );
  });

  it('§3 CLEF_AGENT_VERIFY_KEY: base64 that is not a key → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_VERIFY_KEY: Buffer.from('definitely not DER').toString('base64') }), [
      `CLEF_AGENT_VERIFY_KEY: is not a DER SubjectPublicKeyInfo public key; expected ${VERIFY_EXPECTED}`,
    ]);
  });
});
