/**
 * The real command in a child process (`node dist/tools/pack/cli.js`): stdout/--out routing, the atomic
 * 0644 output file, exit codes, and --revoke-from.
 */

import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ARTIFACT_FIELDS } from '../../common/artifact.js';
import { SECRET, ageBytes, decryptWithAgeCli, makeAgeKey, parseArtifact, runCli, writeFile, packArgs } from './helpers.js';
import { tempDir } from '../kit/index.js';

test('--out writes the artifact atomically with mode 0644 and prints the verify key on stdout', async (t) => {
  const dir = tempDir(t);
  const age = await makeAgeKey(dir);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyFile = writeFile(dir, 'sign.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const payloadFile = writeFile(dir, 'p.json', `{"app":{"K":"${SECRET}"}}`);
  const out = join(dir, 'artifact.json');
  writeFile(dir, 'artifact.json', 'previous content'); // replaced, not appended to

  const r = runCli(packArgs({ payload: payloadFile, recipient: age.recipient }, '--sign-key', keyFile, '--out', out, '--revision', 'r1'));
  assert.equal(r.code, 0, r.stderr);
  const verifyKey = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
  assert.equal(r.stdout, `CLEF_AGENT_VERIFY_KEY=${verifyKey}\n`);
  assert.equal(r.stderr, `clef-agent pack: wrote ${out} (api/prod, revision r1)\n`);
  assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));

  assert.equal(statSync(out).mode & 0o777, 0o644);
  const artifact = parseArtifact(readFileSync(out, 'utf8'));
  assert.equal(decryptWithAgeCli(age.keyFile, ageBytes(artifact)), `{"app":{"K":"${SECRET}"}}`);
  assert.deepEqual(
    readdirSync(dir).filter((n) => n.endsWith('.tmp')),
    [],
    'no temp file left behind',
  );
  assert.ok(!readFileSync(out, 'utf8').includes(SECRET), 'plaintext is not in the artifact');
});

test('without --out the artifact is the whole of stdout and the verify key goes to stderr', async (t) => {
  const dir = tempDir(t);
  const age = await makeAgeKey(dir);
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const der = privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64');
  const keyFile = writeFile(dir, 'sign.b64', der);
  const payloadFile = writeFile(dir, 'p.json', '{"K":"v"}');
  const r = runCli(['--payload', payloadFile, '--recipient', age.recipient, '--identity', 'a', '--environment', 'b', '--sign-key', keyFile, '--armor']);
  assert.equal(r.code, 0, r.stderr);
  const artifact = parseArtifact(r.stdout);
  assert.equal(artifact.signatureAlgorithm, 'ECDSA_SHA256');
  assert.match(r.stderr, /^CLEF_AGENT_VERIFY_KEY=[A-Za-z0-9+/]+=*\n$/);
  assert.equal(decryptWithAgeCli(age.keyFile, ageBytes(artifact)), '{"K":"v"}');
});

test('a payload file with a UTF-8 byte order mark is packed like the agent reads it: BOM dropped', async (t) => {
  const dir = tempDir(t);
  const age = await makeAgeKey(dir);
  const payloadFile = writeFile(dir, 'p.json', `\ufeff{"K":"${SECRET}"}`);
  const r = runCli(packArgs({ payload: payloadFile, recipient: age.recipient }));
  assert.equal(r.code, 0, r.stderr);
  assert.equal(decryptWithAgeCli(age.keyFile, ageBytes(parseArtifact(r.stdout))), `{"K":"${SECRET}"}`);
});

test('a large payload is written completely through a pipe', async (t) => {
  const dir = tempDir(t);
  const age = await makeAgeKey(dir);
  const big: Record<string, string> = {};
  for (let i = 0; i < 2000; i++) big[`KEY_${i}`] = 'x'.repeat(500);
  const payloadFile = writeFile(dir, 'p.json', JSON.stringify(big));
  const r = runCli(['--payload', payloadFile, '--recipient', age.recipient, '--identity', 'a', '--environment', 'b']);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.length > 1_000_000);
  assert.equal(decryptWithAgeCli(age.keyFile, ageBytes(parseArtifact(r.stdout))), JSON.stringify(big));
});

test('the CLI exits 2 with usage for flag mistakes and 0 for --help', () => {
  const bad = runCli(['--payload']);
  assert.equal(bad.code, 2);
  assert.equal(bad.stdout, '');
  assert.match(bad.stderr, /^clef-agent pack: Option '--payload <value>' argument missing\n/);
  assert.match(bad.stderr, /Usage: clef-agent pack/);

  const help = runCli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: clef-agent pack/);
});

test('--out into a missing directory is exit 2 and leaves nothing behind', async (t) => {
  const dir = tempDir(t);
  const age = await makeAgeKey(dir);
  const payloadFile = writeFile(dir, 'p.json', '{}');
  const r = runCli(['--payload', payloadFile, '--recipient', age.recipient, '--identity', 'a', '--environment', 'b', '--out', join(dir, 'no', 'a.json')]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot write --out file .*a\.json: no such file/);
});

test('--revoke-from copies the artifact with revokedAt, keeping order, signature and unknown fields', async (t) => {
  const dir = tempDir(t);
  const age = await makeAgeKey(dir);
  const { privateKey } = generateKeyPairSync('ed25519');
  const keyFile = writeFile(dir, 'sign.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const payloadFile = writeFile(dir, 'p.json', '{}');
  const original = join(dir, 'a.json');
  const packed = runCli(
    packArgs({ payload: payloadFile, recipient: age.recipient, identity: 'a', environment: 'b' }, '--sign-key', keyFile, '--ttl', '60', '--out', original),
  );
  assert.equal(packed.code, 0, packed.stderr);
  const before = JSON.parse(readFileSync(original, 'utf8')) as Record<string, unknown>;
  // An unknown field added by some other tool survives, after the known ones.
  writeFile(dir, 'a.json', JSON.stringify({ extra: 'kept', ...before }));

  const revokedFile = join(dir, 'revoked.json');
  const r = runCli(['--revoke-from', original, '--out', revokedFile]);
  assert.equal(r.code, 0, r.stderr);
  const text = readFileSync(revokedFile, 'utf8');
  const revoked = parseArtifact(text) as unknown as Record<string, unknown>;
  // SPEC §2 order without the envelope (an age artifact), then the unknown field.
  assert.deepEqual(Object.keys(revoked), [...ARTIFACT_FIELDS.filter((f) => f !== 'envelope'), 'extra']);
  assert.equal(new Date(String(revoked.revokedAt)).toISOString(), revoked.revokedAt);
  for (const [k, v] of Object.entries(before)) assert.equal(revoked[k], v, `${k} unchanged`);

  const notJson = runCli(['--revoke-from', payloadFile.replace('p.json', 'sign.pem')]);
  assert.equal(notJson.code, 2);
  assert.match(notJson.stderr, /--revoke-from file is not valid JSON/);
});
