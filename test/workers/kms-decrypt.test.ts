/**
 * KMS envelope artifacts through the worker tasks, in-process (`runTask`), against the local KMS
 * server reached by the real SDK through AWS_ENDPOINT_URL_KMS: both modes, every KMS failure class,
 * tampered envelopes with and without a verify key, and the unsupported-provider path.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { suiteTempDirs } from '../kit/index.js';
import type { LoadResult, LoadTask, ServeResult, ServeTask, TaskFailure } from '../../common/protocol.js';
import { runTask } from '../../workers/index.js';
import { signingKey } from '../helpers/artifacts.js';
import { flipBase64, kmsArtifact, type KmsBuildOptions } from '../helpers/kms-artifacts.js';
import { KmsServer } from '../../emulators/kms-server.js';
import { EncryptionAlgorithmSpec } from '@aws-sdk/client-kms';
import { KMS_ALGORITHMS } from '../../workers/decrypt/kms.js';

const PAYLOAD = { app: { DATABASE_URL: 'postgres://u:KMS-W-SECRET@db/app' }, payments: { STRIPE_KEY: 'sk_live_KMS-W-SECRET' } };
let server: KmsServer;
let keyId: string;
let otherKeyId: string;
const dir = suiteTempDirs('clef-kms-workers-').make();
let seq = 0;

before(async () => {
  server = await new KmsServer().start();
  // The worker code's KMS client is made on first use in this process: point it at the server.
  Object.assign(process.env, server.env());
  keyId = server.createKey();
  otherKeyId = server.createKey();
});
after(() => server.close());
beforeEach(() => {
  server.deny = false;
  server.fault = null;
  server.wrongKeyLength = undefined;
  server.disabled.clear();
});

async function load(artifact: unknown, mode: 'cached' | 'jit' = 'cached', verifyKey?: string): Promise<LoadResult> {
  const path = join(dir, `a${seq++}.json`);
  writeFileSync(path, JSON.stringify(artifact));
  const task: LoadTask = {
    type: 'load',
    mode,
    source: { kind: 'file', path },
    fetch: { timeoutMs: 2000, maxBytes: 1 << 20, retries: 0, allowHttp: false },
    validation: { nowMs: Date.now(), verifyKey },
  };
  // No age key at all: KMS artifacts need none.
  return (await runTask(task, {})) as LoadResult;
}

const build = (o: Partial<KmsBuildOptions> = {}): ReturnType<typeof kmsArtifact> => kmsArtifact(server, { keyId, payload: PAYLOAD, ...o });
const decrypts = (): number => server.calls.filter((c) => c.op === 'Decrypt').length;

function failed(r: LoadResult | ServeResult, code: TaskFailure['code']): string {
  if (r.ok) assert.fail(`expected ${code}, got success`);
  assert.equal(r.code, code, r.message);
  for (const secret of ['KMS-W-SECRET', ...server.handedOut.map((k) => k.toString('base64'))]) assert.ok(!r.message.includes(secret));
  return r.message;
}

describe('KMS envelope: decryption in both modes', () => {
  test('cached: one KMS Decrypt per load; the snapshot holds the payload', async () => {
    const before = decrypts();
    const r = await load(await build());
    assert.ok(r.ok && r.outcome === 'loaded', JSON.stringify(r));
    assert.equal(r.meta.encryption, 'kms');
    assert.match(Buffer.from(r.snapshot.arena).toString('utf8'), /sk_live_KMS-W-SECRET/);
    assert.equal(decrypts() - before, 1);
  });

  test('JIT: the load proves access with one Decrypt and keeps the envelope, no data key; every serve calls KMS', async () => {
    const before = decrypts();
    const r = await load(await build(), 'jit');
    assert.ok(r.ok && r.outcome === 'verified', JSON.stringify(r));
    assert.equal(r.keyCount, 2);
    assert.equal(r.artifact.ageFile.byteLength, 0);
    assert.equal(r.artifact.kms?.envelope.keyId, keyId);
    assert.ok(r.artifact.kms.ciphertext.buffer instanceof SharedArrayBuffer);
    assert.equal(decrypts() - before, 1);
    const task: ServeTask = { type: 'serve', artifact: r.artifact, request: { route: 'secret', name: 'STRIPE_KEY', plain: true } };
    for (let i = 1; i <= 3; i++) {
      const s = (await runTask(task, {})) as ServeResult;
      assert.ok(s.ok && s.status === 200);
      assert.equal(Buffer.from(s.body).toString('utf8'), 'sk_live_KMS-W-SECRET');
      assert.equal(decrypts() - before, 1 + i);
    }
    server.deny = true;
    assert.match(failed((await runTask(task, {})) as ServeResult, 'kms_denied'), /AccessDeniedException.*kms:Decrypt/);
    server.deny = false;
    assert.ok(((await runTask(task, {})) as ServeResult).ok);
  });
});

describe('KMS failures map to kms_denied / kms_unavailable / decrypt_failed', () => {
  test('access denied and a disabled key are kms_denied (not retried: one call each)', async () => {
    const a = await build();
    server.deny = true;
    let n = server.calls.length;
    assert.match(failed(await load(a), 'kms_denied'), /AccessDeniedException, HTTP 400/);
    assert.equal(server.calls.length - n, 1);
    server.deny = false;
    server.disabled.add(keyId.split('/')[1] ?? '');
    n = server.calls.length;
    assert.match(failed(await load(a, 'jit'), 'kms_denied'), /DisabledException/);
    assert.equal(server.calls.length - n, 1);
  });

  test('throttling is kms_unavailable after a bounded number of attempts (2)', async () => {
    const a = await build();
    server.fault = { kind: 'error', type: 'ThrottlingException', status: 400, message: 'Rate exceeded' };
    const n = server.calls.length;
    assert.match(failed(await load(a), 'kms_unavailable'), /ThrottlingException/);
    assert.equal(server.calls.length - n, 2);
  });

  test('KMSInternalException (500), a dropped connection, a refused connection and a stalled KMS are kms_unavailable', async () => {
    const a = await build();
    server.fault = { kind: 'error', type: 'KMSInternalException', status: 500 };
    failed(await load(a), 'kms_unavailable');
    server.fault = { kind: 'reset' };
    failed(await load(a), 'kms_unavailable');
    server.fault = { kind: 'slow', ms: 30_000 };
    assert.match(failed(await load(a), 'kms_unavailable'), /TimeoutError|AbortError/);
    server.fault = null;
    await server.refuseConnections();
    try {
      assert.match(failed(await load(a), 'kms_unavailable'), /ECONNREFUSED/);
    } finally {
      await server.start();
    }
    assert.ok((await load(a)).ok);
  });

  test('a wrong-length data key from KMS is decrypt_failed naming the length', async () => {
    const a = await build();
    for (const n of [31, 16, 64]) {
      server.wrongKeyLength = n;
      assert.match(failed(await load(a), 'decrypt_failed'), new RegExp(`${n}-byte data key`));
    }
  });
});

describe('tampered envelopes', () => {
  const tampers: [string, (e: Record<string, string>) => void, RegExp][] = [
    ['authTag bit', (e) => (e['authTag'] = flipBase64(e['authTag'] ?? '')), /authentication failed/],
    ['iv bit', (e) => (e['iv'] = flipBase64(e['iv'] ?? '')), /authentication failed/],
    ['wrappedKey bit', (e) => (e['wrappedKey'] = flipBase64(e['wrappedKey'] ?? '', -1)), /InvalidCiphertextException/],
    ['iv length', (e) => (e['iv'] = Buffer.alloc(16).toString('base64')), /envelope\.iv must be 12 bytes/],
    ['authTag length', (e) => (e['authTag'] = Buffer.alloc(12).toString('base64')), /envelope\.authTag must be 16 bytes/],
    ['wrappedKey not base64', (e) => (e['wrappedKey'] = 'not base64!'), /wrappedKey/],
  ];

  test('without a verify key each reaches decryption and fails decrypt_failed, cleanly', async () => {
    for (const [name, tamper, message] of tampers) {
      const a = await build({ mutate: (x) => tamper(x.envelope) });
      assert.match(failed(await load(a), 'decrypt_failed'), message, name);
      assert.match(failed(await load(a, 'jit'), 'decrypt_failed'), message, name);
    }
  });

  test('a wrappedKey from another KMS key (keyId kept) is decrypt_failed (IncorrectKeyException)', async () => {
    const other = await kmsArtifact(server, { keyId: otherKeyId, payload: PAYLOAD });
    const a = await build({ mutate: (x) => (x.envelope['wrappedKey'] = other.envelope['wrappedKey'] ?? '') });
    assert.match(failed(await load(a), 'decrypt_failed'), /IncorrectKeyException/);
  });

  test('with a verify key the signature catches every envelope tamper before any KMS call', async () => {
    const sk = signingKey('p256');
    for (const [name, tamper] of tampers) {
      const a = await build({ sign: sk, mutate: (x) => tamper(x.envelope) });
      const n = decrypts();
      failed(await load(a, 'cached', sk.verifyKey), 'signature_invalid');
      assert.equal(decrypts(), n, name);
    }
    const good = await load(await build({ sign: sk }), 'cached', sk.verifyKey);
    assert.ok(good.ok && good.outcome === 'loaded' && good.meta.signed);
  });

  test('a KMS-signed artifact verifies with the signing key public half (GetPublicKey)', async () => {
    const signKey = server.createSigningKey();
    const { KMSClient, GetPublicKeyCommand } = await import('@aws-sdk/client-kms');
    const client = new KMSClient({});
    const pub = await client.send(new GetPublicKeyCommand({ KeyId: signKey }));
    client.destroy();
    const verifyKey = Buffer.from(pub.PublicKey ?? new Uint8Array()).toString('base64');
    const r = await load(await build({ sign: { kmsKeyId: signKey } }), 'jit', verifyKey);
    assert.ok(r.ok && r.outcome === 'verified' && r.meta.signed, JSON.stringify(r));
    const forged = await build({ sign: { kmsKeyId: signKey }, mutate: (x) => (x.envelope['keyId'] = otherKeyId) });
    failed(await load(forged, 'jit', verifyKey), 'signature_invalid');
  });
});

describe('providers and algorithms', () => {
  test('a provider other than "aws" is unsupported_encryption naming it and what is supported; no KMS call', async () => {
    const [gcp, vault] = [await build({ envelope: { provider: 'gcp-kms' } }), await build({ envelope: { provider: 'vault' } })];
    const n = decrypts();
    const msg = failed(await load(gcp), 'unsupported_encryption');
    assert.match(msg, /envelope\.provider "gcp-kms" is not supported.*"aws" \(AWS KMS\)/);
    failed(await load(vault, 'jit'), 'unsupported_encryption');
    assert.equal(decrypts() - n, 0);
  });

  test('an algorithm KMS does not know is unsupported_encryption naming the accepted ones', async () => {
    assert.match(failed(await load(await build({ envelope: { algorithm: 'AES_GCM' } })), 'unsupported_encryption'), /SYMMETRIC_DEFAULT/);
  });
});

test("the envelope check's algorithm list is the SDK's EncryptionAlgorithmSpec (kept without loading the SDK)", () => {
  assert.deepEqual([...KMS_ALGORITHMS].sort(), Object.values(EncryptionAlgorithmSpec).sort());
});
