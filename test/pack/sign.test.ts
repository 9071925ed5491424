/**
 * Signing (SPEC §2.2): Ed25519 and P-256 keys as PEM, base64 DER and raw DER; the signature
 * verifies with node:crypto over signingPayload() the way the agent checks it; the printed verify
 * key is the key's SPKI; every other key type or form is refused with exit code 2.
 */

import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { test } from 'node:test';
import { signingPayload, type PackedArtifact } from '../../common/artifact.js';
import { makeAgeKey, parseArtifact, runInProcess, writeFile, packArgs } from './helpers.js';
import { tempDir } from '../kit/index.js';

type KeyForm = 'pem' | 'base64-der' | 'raw-der';

function keyFileContent(key: KeyObject, form: KeyForm): string | Buffer {
  if (form === 'pem') return key.export({ type: 'pkcs8', format: 'pem' });
  const der = key.export({ type: 'pkcs8', format: 'der' });
  // base64 split over lines with a trailing newline, as `base64` the tool writes it.
  return form === 'raw-der' ? der : `${der.toString('base64').replace(/(.{64})/g, '$1\n')}\n`;
}

/** Verify as the agent does: the verify key's type picks the algorithm, never signatureAlgorithm. */
function agentVerifies(a: PackedArtifact, verifyKeyB64: string): boolean {
  const key = createPublicKey({ key: Buffer.from(verifyKeyB64, 'base64'), format: 'der', type: 'spki' });
  const digest = key.asymmetricKeyType === 'ed25519' ? null : 'sha256';
  return verify(digest, signingPayload(a), key, Buffer.from(a.signature ?? '', 'base64'));
}

const KEYS = [
  { name: 'Ed25519', algorithm: 'Ed25519', make: () => generateKeyPairSync('ed25519') },
  { name: 'ECDSA P-256', algorithm: 'ECDSA_SHA256', make: () => generateKeyPairSync('ec', { namedCurve: 'P-256' }) },
] as const;

for (const k of KEYS) {
  for (const form of ['pem', 'base64-der', 'raw-der'] as const) {
    test(`${k.name} key as ${form}: signature verifies over signingPayload, verify key printed`, async (t) => {
      const dir = tempDir(t);
      const age = await makeAgeKey(dir);
      const { privateKey, publicKey } = k.make();
      const keyFile = writeFile(dir, 'sign.key', keyFileContent(privateKey, form));
      const payloadFile = writeFile(dir, 'p.json', '{"app":{"A":"1"}}');
      const r = await runInProcess(packArgs({ payload: payloadFile, recipient: age.recipient }, '--sign-key', keyFile, '--ttl', '300'));
      assert.equal(r.code, 0, r.stderr);
      const a = parseArtifact(r.stdout);
      assert.equal(a.signatureAlgorithm, k.algorithm);

      const expectedKey = publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
      assert.equal(r.stderr, `CLEF_AGENT_VERIFY_KEY=${expectedKey}\n`, 'exactly the verify key line on stderr');
      assert.ok(agentVerifies(a, expectedKey));
      // The expiry is inside the signed bytes: moving it breaks the signature.
      assert.equal(agentVerifies({ ...a, expiresAt: '2999-01-01T00:00:00.000Z' }, expectedKey), false);
      assert.equal(agentVerifies({ ...a, ciphertextHash: '0'.repeat(64) }, expectedKey), false);
      if (k.algorithm === 'ECDSA_SHA256') {
        // DER-encoded ECDSA signature (SEQUENCE of two INTEGERs), as AWS KMS produces.
        assert.equal(Buffer.from(a.signature ?? '', 'base64')[0], 0x30);
      }
    });
  }
}

test('signingKey accepts a KeyObject and PEM text programmatically; revokedAt stays outside the signature', async (t) => {
  const dir = tempDir(t);
  const age = await makeAgeKey(dir);
  const { packArtifact } = await import('../../tools/pack/index.js');
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  for (const signingKey of [privateKey, privateKey.export({ type: 'pkcs8', format: 'pem' })]) {
    const r = await packArtifact({ payload: {}, recipients: [age.recipient], identity: 'i', environment: 'e', signingKey });
    assert.ok(r.verifyKey !== undefined && agentVerifies(r.artifact, r.verifyKey));
    assert.ok(agentVerifies({ ...r.artifact, revokedAt: '2025-01-01T00:00:00.000Z' }, r.verifyKey));
  }
});

const REFUSED: { name: string; content: () => string | Buffer; message: RegExp }[] = [
  {
    name: 'RSA private key (PEM)',
    content: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    message: /is a rsa key; supported key types are Ed25519 and ECDSA P-256/,
  },
  {
    name: 'RSA private key (base64 DER)',
    content: () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'der' }).toString('base64'),
    message: /is a rsa key; supported key types are Ed25519 and ECDSA P-256/,
  },
  {
    name: 'EC P-384 key',
    content: () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey.export({ type: 'pkcs8', format: 'pem' }),
    message: /curve secp384r1; only P-256/,
  },
  {
    name: 'public key PEM',
    content: () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }),
    message: /holds a public key; it needs the private key/,
  },
  {
    name: 'verify key (base64 SPKI) passed by mistake',
    content: () => generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    message: /holds a public key \(SPKI\)/,
  },
  {
    name: 'passphrase-encrypted PEM',
    content: () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }),
    message: /passphrase-encrypted/,
  },
  { name: 'garbage text', content: () => 'not a key at all!', message: /must be a PKCS#8 private key in PEM or base64 DER form/ },
  { name: 'base64 that is not a key', content: () => Buffer.from('hello').toString('base64'), message: /cannot parse the DER data/ },
  { name: 'empty file', content: () => '', message: /must be a PKCS#8 private key/ },
];

for (const c of REFUSED) {
  test(`--sign-key refuses ${c.name} with exit 2, printing no key material`, async (t) => {
    const dir = tempDir(t);
    const age = await makeAgeKey(dir);
    const content = c.content();
    const keyFile = writeFile(dir, 'sign.key', content);
    const payloadFile = writeFile(dir, 'p.json', '{}');
    const r = await runInProcess(['--payload', payloadFile, '--recipient', age.recipient, '--identity', 'i', '--environment', 'e', '--sign-key', keyFile]);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '', 'no artifact is written');
    assert.match(r.stderr, c.message);
    // No 16-character run of the key file's base64 body may leak into the message.
    const body = Buffer.from(content)
      .toString('latin1')
      .replace(/-----[^-]+-----|\s/g, '');
    for (let i = 0; i + 16 <= body.length; i += 8) assert.ok(!r.stderr.includes(body.slice(i, i + 16)));
  });
}

test('missing --sign-key file is a clear exit-2 error', async (t) => {
  const dir = tempDir(t);
  const age = await makeAgeKey(dir);
  const payloadFile = writeFile(dir, 'p.json', '{}');
  const r = await runInProcess(packArgs({ payload: payloadFile, recipient: age.recipient, identity: 'i', environment: 'e' }, '--sign-key', `${dir}/nope.pem`));
  assert.equal(r.code, 2);
  assert.match(r.stderr, /cannot read --sign-key file .*nope\.pem: no such file/);
});
