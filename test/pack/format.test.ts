/**
 * Artifact bytes (SPEC §2): decryptable by the reference `age` CLI and by age-encryption, binary
 * and armored; ciphertextHash over the base64 text; field order and exact JSON formatting; TTL.
 */

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { test } from 'node:test';
import { packArtifact } from '../../tools/pack/index.js';
import {
  FIELD_ORDER,
  ageBytes,
  decryptWithAgeCli,
  decryptWithTypage,
  makeAgeKey,
  parseArtifact,
  runInProcess,
  sha256Hex,
  writeFile,
  packArgs,
} from './helpers.js';
import { tempDir } from '../kit/index.js';

const PAYLOAD = {
  app: { DATABASE_URL: 'postgres://u:p@db/app', API_KEY: 'k-123' },
  payments: { STRIPE_KEY: 'sk_test_x' },
};

for (const armored of [false, true]) {
  test(`CLI output (${armored ? 'armored' : 'binary'}) decrypts with the reference age CLI and age-encryption`, async (t) => {
    const dir = tempDir(t);
    const key = await makeAgeKey(dir);
    const payloadFile = writeFile(dir, 'payload.json', JSON.stringify(PAYLOAD, null, 4));
    const argv = ['--payload', payloadFile, '--recipient', key.recipient, '--identity', 'api', '--environment', 'prod'];
    const r = await runInProcess(armored ? [...argv, '--armor'] : argv);
    assert.equal(r.code, 0, r.stderr);
    const artifact = parseArtifact(r.stdout);

    const file = ageBytes(artifact);
    const text = file.toString('latin1');
    if (armored) assert.match(text, /^-----BEGIN AGE ENCRYPTED FILE-----\n/);
    else assert.ok(text.startsWith('age-encryption.org/v1\n'), 'binary age v1 header');

    // Pack re-serialises the checked payload compactly, so the plaintext is exactly this.
    const expected = JSON.stringify(PAYLOAD);
    assert.equal(decryptWithAgeCli(key.keyFile, file), expected);
    assert.equal(await decryptWithTypage(key.identity, file, armored), expected);
    assert.equal(artifact.ciphertextHash, sha256Hex(artifact.ciphertext));
    assert.match(artifact.ciphertextHash, /^[0-9a-f]{64}$/);
    assert.match(artifact.ciphertext, /^[A-Za-z0-9+/]+={0,2}$/, 'standard base64');
  });
}

test('fields appear in SPEC §2 order, optional ones only when set', async (t) => {
  const dir = tempDir(t);
  const key = await makeAgeKey(dir);
  const base = { payload: PAYLOAD, recipients: [key.recipient], identity: 'api', environment: 'prod' };

  const plain = await packArtifact(base);
  assert.deepEqual(Object.keys(JSON.parse(plain.json) as object), FIELD_ORDER);
  assert.deepEqual(Object.keys(plain.artifact), FIELD_ORDER);
  assert.equal(plain.verifyKey, undefined);
  assert.equal(plain.artifact.version, 1);
  assert.match(plain.json, /^\{\n {2}"version": 1,\n {2}"identity": "api",\n/);
  assert.ok(plain.json.endsWith('"\n}\n'));

  const { privateKey } = generateKeyPairSync('ed25519');
  const full = await packArtifact({ ...base, ttlSeconds: 60, signingKey: privateKey });
  assert.deepEqual(Object.keys(JSON.parse(full.json) as object), [...FIELD_ORDER, 'expiresAt', 'signature', 'signatureAlgorithm']);
  assert.equal(full.json, JSON.stringify(full.artifact, null, 2) + '\n');
});

test('--ttl sets expiresAt = packedAt + ttl; --packed-at is normalised with toISOString', async (t) => {
  const dir = tempDir(t);
  const key = await makeAgeKey(dir);
  const payloadFile = writeFile(dir, 'p.json', '{}');
  const r = await runInProcess(
    packArgs({ payload: payloadFile, recipient: key.recipient }, '--packed-at', '2025-01-31T13:00:00+01:00', '--ttl', '3600', '--revision', 'rev-7'),
  );
  assert.equal(r.code, 0, r.stderr);
  const a = parseArtifact(r.stdout);
  assert.equal(a.packedAt, '2025-01-31T12:00:00.000Z');
  assert.equal(a.expiresAt, '2025-01-31T13:00:00.000Z');
  assert.equal(a.revision, 'rev-7');
  assert.equal(Date.parse(a.expiresAt ?? '') - Date.parse(a.packedAt), 3600 * 1000);
});

test('--packed-at up to 5 minutes ahead is accepted; further ahead only with --allow-future-packed-at', async (t) => {
  const dir = tempDir(t);
  const key = await makeAgeKey(dir);
  const payloadFile = writeFile(dir, 'p.json', '{}');
  const soon = new Date(Date.now() + 60_000).toISOString();
  const near = await runInProcess(packArgs({ payload: payloadFile, recipient: key.recipient }, '--packed-at', soon));
  assert.equal(near.code, 0, near.stderr);
  assert.equal(parseArtifact(near.stdout).packedAt, soon);
  const far = await runInProcess(
    packArgs({ payload: payloadFile, recipient: key.recipient }, '--packed-at', '2036-01-01T00:00:00Z', '--allow-future-packed-at'),
  );
  assert.equal(far.code, 0, far.stderr);
  assert.equal(parseArtifact(far.stdout).packedAt, '2036-01-01T00:00:00.000Z');
  await assert.rejects(
    packArtifact({ payload: {}, recipients: [key.recipient], identity: 'api', environment: 'prod', packedAt: '2036-01-01T00:00:00Z' }),
    /--packed-at 2036-01-01T00:00:00\.000Z is more than 5 minutes in the future/,
  );
});

test('defaults: packedAt is an ISO time, revision is derived from it and unique per pack', async (t) => {
  const dir = tempDir(t);
  const key = await makeAgeKey(dir);
  const opts = { payload: {}, recipients: [key.recipient], identity: 'i', environment: 'e' };
  const a = (await packArtifact(opts)).artifact;
  const b = (await packArtifact({ ...opts, packedAt: new Date(a.packedAt) })).artifact;
  assert.equal(new Date(a.packedAt).toISOString(), a.packedAt);
  assert.match(a.revision, /^\d{8}T\d{6}Z-[0-9a-f]{8}$/);
  assert.equal(a.revision.slice(0, 16), a.packedAt.replace(/[-:]/g, '').slice(0, 15) + 'Z');
  assert.notEqual(a.revision, b.revision, 'same second, different revision');
});

test('flat, empty and __proto__/constructor payloads are packed as given', async (t) => {
  const dir = tempDir(t);
  const key = await makeAgeKey(dir);
  const cases = ['{}', '{"API_KEY":"a","OTHER":"b"}', '{"__proto__":{"constructor":"x","toString":"y"},"app":{}}', '{"constructor":"c","__proto__":"p"}'];
  for (const text of cases) {
    const { artifact } = await packArtifact({ payload: text, recipients: [key.recipient], identity: 'i', environment: 'e' });
    // Whitespace-free input, so the canonical re-serialisation is byte-identical to it.
    assert.equal(decryptWithAgeCli(key.keyFile, ageBytes(artifact)), text);
  }
});

test('several --recipient flags: every identity can decrypt', async (t) => {
  const dir = tempDir(t);
  const k1 = await makeAgeKey(dir, 'k1.txt');
  const k2 = await makeAgeKey(dir, 'k2.txt');
  const payloadFile = writeFile(dir, 'p.json', '{"A":"1"}');
  const r = await runInProcess(['--payload', payloadFile, '--recipient', k1.recipient, '--recipient', k2.recipient, '--identity', 'i', '--environment', 'e']);
  assert.equal(r.code, 0, r.stderr);
  const file = ageBytes(parseArtifact(r.stdout));
  assert.equal(decryptWithAgeCli(k1.keyFile, file), '{"A":"1"}');
  assert.equal(decryptWithAgeCli(k2.keyFile, file), '{"A":"1"}');
});

test('unsigned pack prints only a one-line note recommending signing', async (t) => {
  const dir = tempDir(t);
  const key = await makeAgeKey(dir);
  const payloadFile = writeFile(dir, 'p.json', '{}');
  const r = await runInProcess(['--payload', payloadFile, '--recipient', key.recipient, '--identity', 'i', '--environment', 'e']);
  assert.equal(r.code, 0);
  assert.equal(r.stderr.split('\n').filter(Boolean).length, 1);
  assert.match(r.stderr, /unsigned.*--sign-key.*CLEF_AGENT_VERIFY_KEY/);
  assert.doesNotMatch(r.stderr, /CLEF_AGENT_VERIFY_KEY=/);
});
