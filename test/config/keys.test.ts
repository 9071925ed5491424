/** CLEF_AGENT_AGE_KEY / CLEF_AGENT_AGE_KEY_FILE and CLEF_AGENT_VERIFY_KEY (SPEC §2.2, §3). */
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { chmodSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cleanup, env, load, refuseWith, tempDir } from './helpers.js';

after(cleanup);

const AGE_KEY = 'AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ';
const FILE_EXPECTED = 'expected a path to a readable age identity file';

function keyFile(mode = 0o600, content = `# created: today\n${AGE_KEY}\n`): string {
  const file = join(tempDir(), 'key.txt');
  writeFileSync(file, content);
  chmodSync(file, mode);
  return file;
}

describe('CLEF_AGENT_AGE_KEY', () => {
  test('CLEF_AGENT_AGE_KEY: becomes opaque inline bytes, unparsed', () => {
    const c = load(env({ CLEF_AGENT_AGE_KEY: AGE_KEY }));
    assert.equal(c.ageKey?.kind, 'inline');
    assert.ok(c.ageKey?.kind === 'inline' && Buffer.from(c.ageKey.sealed.unseal()).equals(Buffer.from(AGE_KEY)));
    // Sealed: neither JSON nor inspection of the config shows the key.
    assert.ok(!JSON.stringify(c).includes(AGE_KEY));
    assert.ok(!inspect(c, { depth: 10 }).includes(AGE_KEY));
  });
  test('CLEF_AGENT_AGE_KEY: an invalid-looking key is still accepted (workers validate the format)', () =>
    assert.equal(load(env({ CLEF_AGENT_AGE_KEY: 'not-an-age-key' })).ageKey?.kind, 'inline'));
  test('CLEF_AGENT_AGE_KEY: is deleted from the environment object', () => {
    const e = env({ CLEF_AGENT_AGE_KEY: AGE_KEY });
    load(e);
    assert.equal('CLEF_AGENT_AGE_KEY' in e, false);
  });
  test('CLEF_AGENT_AGE_KEY: is deleted from the environment even when the configuration is refused', () => {
    const e = env({ CLEF_AGENT_AGE_KEY: AGE_KEY, CLEF_AGENT_PORT: 'nope' });
    refuseWith(e, ['CLEF_AGENT_PORT: "nope" is not an integer; expected an integer from 0 to 65535']);
    assert.equal('CLEF_AGENT_AGE_KEY' in e, false);
  });
  test('CLEF_AGENT_AGE_KEY: neither key variable set is allowed (KMS artifacts need none)', () => assert.equal(load(env()).ageKey, undefined));
  test('CLEF_AGENT_AGE_KEY: rejects an empty value', () =>
    void refuseWith(env({ CLEF_AGENT_AGE_KEY: '' }), ['CLEF_AGENT_AGE_KEY: is empty; expected an age secret key (AGE-SECRET-KEY-1…)']));
  test('CLEF_AGENT_AGE_KEY: rejects being set together with CLEF_AGENT_AGE_KEY_FILE, without echoing the key', () => {
    const e = env({ CLEF_AGENT_AGE_KEY: AGE_KEY, CLEF_AGENT_AGE_KEY_FILE: keyFile() });
    const err = refuseWith(e, [
      'CLEF_AGENT_AGE_KEY: is set together with CLEF_AGENT_AGE_KEY_FILE; expected only one of CLEF_AGENT_AGE_KEY or CLEF_AGENT_AGE_KEY_FILE',
    ]);
    assert.ok(!err.message.includes('QQQQ'));
    assert.equal('CLEF_AGENT_AGE_KEY' in e, false);
  });
});

describe('CLEF_AGENT_AGE_KEY_FILE', () => {
  test('CLEF_AGENT_AGE_KEY_FILE: accepts a readable 0600 file without a warning', () => {
    const file = keyFile();
    const c = load(env({ CLEF_AGENT_AGE_KEY_FILE: file }));
    assert.deepEqual(c.ageKey, { kind: 'file', path: file });
    assert.deepEqual(c.warnings, []);
  });
  test('CLEF_AGENT_AGE_KEY_FILE: follows a symbolic link (Kubernetes secret volumes)', () => {
    const file = keyFile();
    const link = join(tempDir(), 'key-link');
    symlinkSync(file, link);
    assert.deepEqual(load(env({ CLEF_AGENT_AGE_KEY_FILE: link })).ageKey, { kind: 'file', path: link });
  });
  test('CLEF_AGENT_AGE_KEY_FILE: warns when group or others can read the file', () => {
    const file = keyFile(0o644);
    assert.deepEqual(load(env({ CLEF_AGENT_AGE_KEY_FILE: file })).warnings, [
      `CLEF_AGENT_AGE_KEY_FILE "${file}" is readable by group or others (mode 0644); restrict it to 0600 or 0400`,
    ]);
  });
  test('CLEF_AGENT_AGE_KEY_FILE: resolves a relative path against the working directory', () => {
    const file = keyFile();
    const dir = join(file, '..');
    assert.deepEqual(load(env({ CLEF_AGENT_AGE_KEY_FILE: 'key.txt' }), { cwd: dir }).ageKey, { kind: 'file', path: file });
  });
  test('CLEF_AGENT_AGE_KEY_FILE: rejects a missing file', () => {
    const file = join(tempDir(), 'absent.txt');
    refuseWith(env({ CLEF_AGENT_AGE_KEY_FILE: file }), [`CLEF_AGENT_AGE_KEY_FILE: "${file}" does not exist; ${FILE_EXPECTED}`]);
  });
  test('CLEF_AGENT_AGE_KEY_FILE: rejects a directory', () => {
    const dir = tempDir();
    refuseWith(env({ CLEF_AGENT_AGE_KEY_FILE: dir }), [`CLEF_AGENT_AGE_KEY_FILE: "${dir}" is not a regular file; ${FILE_EXPECTED}`]);
  });
  test('CLEF_AGENT_AGE_KEY_FILE: rejects an empty file', () => {
    const file = keyFile(0o600, '');
    refuseWith(env({ CLEF_AGENT_AGE_KEY_FILE: file }), [`CLEF_AGENT_AGE_KEY_FILE: "${file}" is empty; ${FILE_EXPECTED}`]);
  });
  test('CLEF_AGENT_AGE_KEY_FILE: rejects an empty value', () =>
    void refuseWith(env({ CLEF_AGENT_AGE_KEY_FILE: '' }), [`CLEF_AGENT_AGE_KEY_FILE: is empty; ${FILE_EXPECTED}`]));
});

const VERIFY_EXPECTED = 'expected a base64 DER SubjectPublicKeyInfo of an Ed25519 or EC P-256 public key';

function spki(key: KeyObject): string {
  return key.export({ format: 'der', type: 'spki' }).toString('base64');
}

describe('CLEF_AGENT_VERIFY_KEY', () => {
  test('CLEF_AGENT_VERIFY_KEY: accepts an Ed25519 key', () => {
    const b64 = spki(generateKeyPairSync('ed25519').publicKey);
    const c = load(env({ CLEF_AGENT_VERIFY_KEY: b64 }));
    assert.equal(c.verifyKey, b64);
    assert.equal(c.verifyKeyType, 'ed25519');
  });
  test('CLEF_AGENT_VERIFY_KEY: accepts an EC P-256 key', () => {
    const b64 = spki(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const c = load(env({ CLEF_AGENT_VERIFY_KEY: b64 }));
    assert.equal(c.verifyKey, b64);
    assert.equal(c.verifyKeyType, 'p256');
  });
  test('CLEF_AGENT_VERIFY_KEY: ignores whitespace and line breaks in the base64', () => {
    const b64 = spki(generateKeyPairSync('ed25519').publicKey);
    assert.equal(load(env({ CLEF_AGENT_VERIFY_KEY: ` ${b64.slice(0, 20)}\n${b64.slice(20)}\n` })).verifyKey, b64);
  });
  test('CLEF_AGENT_VERIFY_KEY: accepts a PUBLIC KEY PEM block, stored as base64 DER', () => {
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    assert.equal(load(env({ CLEF_AGENT_VERIFY_KEY: pem })).verifyKey, spki(publicKey));
  });
  test('CLEF_AGENT_VERIFY_KEY: rejects an RSA key', () =>
    void refuseWith(env({ CLEF_AGENT_VERIFY_KEY: spki(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey) }), [
      `CLEF_AGENT_VERIFY_KEY: is an RSA key; ${VERIFY_EXPECTED}`,
    ]));
  test('CLEF_AGENT_VERIFY_KEY: rejects an EC P-384 key', () =>
    void refuseWith(env({ CLEF_AGENT_VERIFY_KEY: spki(generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey) }), [
      `CLEF_AGENT_VERIFY_KEY: is an EC key on curve P-384 (secp384r1); ${VERIFY_EXPECTED}`,
    ]));
  test('CLEF_AGENT_VERIFY_KEY: rejects an EC secp256k1 key', () =>
    void refuseWith(env({ CLEF_AGENT_VERIFY_KEY: spki(generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey) }), [
      `CLEF_AGENT_VERIFY_KEY: is an EC key on curve secp256k1; ${VERIFY_EXPECTED}`,
    ]));
  test('CLEF_AGENT_VERIFY_KEY: rejects an X25519 key', () =>
    void refuseWith(env({ CLEF_AGENT_VERIFY_KEY: spki(generateKeyPairSync('x25519').publicKey) }), [
      `CLEF_AGENT_VERIFY_KEY: is an X25519 key; ${VERIFY_EXPECTED}`,
    ]));
  test('CLEF_AGENT_VERIFY_KEY: rejects an Ed448 key', () =>
    void refuseWith(env({ CLEF_AGENT_VERIFY_KEY: spki(generateKeyPairSync('ed448').publicKey) }), [
      `CLEF_AGENT_VERIFY_KEY: is an Ed448 key; ${VERIFY_EXPECTED}`,
    ]));
  test('CLEF_AGENT_VERIFY_KEY: rejects invalid base64', () =>
    void refuseWith(env({ CLEF_AGENT_VERIFY_KEY: 'not*base64!' }), [`CLEF_AGENT_VERIFY_KEY: is not valid base64; ${VERIFY_EXPECTED}`]));
  test('CLEF_AGENT_VERIFY_KEY: rejects base64 that is not a public key', () =>
    void refuseWith(env({ CLEF_AGENT_VERIFY_KEY: Buffer.from('hello, world').toString('base64') }), [
      `CLEF_AGENT_VERIFY_KEY: is not a DER SubjectPublicKeyInfo public key; ${VERIFY_EXPECTED}`,
    ]));
  test('CLEF_AGENT_VERIFY_KEY: rejects a private key (DER) without echoing it', () => {
    const der = generateKeyPairSync('ed25519').privateKey.export({ format: 'der', type: 'pkcs8' }).toString('base64');
    const err = refuseWith(env({ CLEF_AGENT_VERIFY_KEY: der }), [`CLEF_AGENT_VERIFY_KEY: is a private key; ${VERIFY_EXPECTED}`]);
    assert.ok(!err.message.includes(der.slice(-16)));
  });
  test('CLEF_AGENT_VERIFY_KEY: rejects a private key (PEM)', () => {
    const pem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    refuseWith(env({ CLEF_AGENT_VERIFY_KEY: pem }), [`CLEF_AGENT_VERIFY_KEY: is a private key; ${VERIFY_EXPECTED}`]);
  });
  test('CLEF_AGENT_VERIFY_KEY: rejects another PEM block', () =>
    void refuseWith(env({ CLEF_AGENT_VERIFY_KEY: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n' }), [
      `CLEF_AGENT_VERIFY_KEY: is a PEM block other than PUBLIC KEY; ${VERIFY_EXPECTED}`,
    ]));
  test('CLEF_AGENT_VERIFY_KEY: rejects an empty value', () =>
    void refuseWith(env({ CLEF_AGENT_VERIFY_KEY: '' }), [`CLEF_AGENT_VERIFY_KEY: is empty; ${VERIFY_EXPECTED}`]));
});
