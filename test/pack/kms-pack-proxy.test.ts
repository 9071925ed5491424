/**
 * `clef-agent pack --kms-key-id --sign-kms-key-id` through HTTPS_PROXY (SPEC §3), as a child
 * process: the KMS server speaks https (a throwaway CA, trusted through NODE_EXTRA_CA_CERTS) under
 * the name `kms.test`, which only the forward proxy can reach; NO_PROXY sends the calls direct, and
 * a proxy variable that is not an http(s) URL is refused by name.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { KmsServer } from '../../emulators/kms-server.js';
import { ForwardProxy } from '../../emulators/proxy.js';
import { makeTestTls, writeCaFile } from '../../emulators/test-tls.js';
import { CLI, SECRET } from './helpers.js';
import { runNode, tempDir, type RunResult } from '../kit/index.js';

let kms: KmsServer;
let proxy: ForwardProxy;
let ca: { readonly path: string; remove(): void };
let keyId: string;
let signKeyId: string;

before(async () => {
  const tls = makeTestTls(['kms.test']);
  ca = writeCaFile(tls);
  kms = await new KmsServer({ tls }).start();
  proxy = await new ForwardProxy().start();
  keyId = kms.createKey();
  signKeyId = kms.createSigningKey();
});
after(async () => {
  await Promise.all([proxy.close(), kms.close()]);
  ca.remove();
});

function pack(argv: readonly string[], env: Record<string, string>): Promise<RunResult> {
  const through = { AWS_ENDPOINT_URL_KMS: `https://kms.test:${kms.port}`, NODE_EXTRA_CA_CERTS: ca.path, HTTPS_PROXY: proxy.url };
  return runNode(CLI, argv, { env: { ...kms.env(), ...through, ...env } });
}

function args(t: { after(fn: () => void): void }): string[] {
  const payload = join(tempDir(t), 'payload.json');
  writeFileSync(payload, JSON.stringify({ app: { API_KEY: SECRET } }));
  return ['--payload', payload, '--identity', 'api', '--environment', 'prod', '--kms-key-id', keyId, '--sign-kms-key-id', signKeyId];
}

describe('clef-agent pack with AWS KMS behind a proxy', { concurrency: 1 }, () => {
  test('every KMS call (GetPublicKey, GenerateDataKey, Sign) goes through HTTPS_PROXY to kms.test', async (t) => {
    const [calls, seen] = [kms.calls.length, proxy.seen.length];
    const r = await pack(args(t), { NO_PROXY: 'unrelated.example' });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as { envelope: { keyId: string } }).envelope.keyId, keyId);
    assert.deepEqual(
      kms.calls.slice(calls).map((c) => `${c.op}:${c.outcome}:${c.host ?? ''}`),
      ['GetPublicKey', 'GenerateDataKey', 'Sign'].map((op) => `${op}:ok:kms.test:${kms.port}`),
    );
    assert.ok(proxy.seen.slice(seen).length >= 1);
    assert.ok(
      proxy.seen.slice(seen).every((s) => s === `CONNECT kms.test:${kms.port}`),
      proxy.seen.join(', '),
    );
  });

  test('NO_PROXY=kms.test: the calls go direct, where kms.test does not resolve (exit 1), and the proxy sees nothing', async (t) => {
    const seen = proxy.seen.length;
    const r = await pack(args(t), { NO_PROXY: 'kms.test' });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /KMS GetPublicKey failed for --sign-kms-key-id/);
    assert.equal(proxy.seen.length, seen);
  });

  test('a proxy refusing the tunnel: exit 1 naming the call and the proxy status', async (t) => {
    proxy.refuse = 403;
    let r: Awaited<ReturnType<typeof pack>>;
    try {
      r = await pack(args(t), {});
    } finally {
      proxy.refuse = undefined;
    }
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(`KMS GetPublicKey failed for --sign-kms-key-id \\(ProxyTunnelError\\): the proxy refused the tunnel to kms.test:${kms.port} \\(HTTP 403\\)`),
    );
  });

  test('a proxy variable that is not an http(s) URL: exit 2 naming the variable, never its value', async (t) => {
    const r = await pack(args(t), { HTTPS_PROXY: 'socks5://u:Pack-Proxy-Pass-77@127.0.0.1:1080' });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /HTTPS_PROXY must be an http:\/\/ or https:\/\/ proxy URL/);
    assert.ok(!r.stderr.includes('Pack-Proxy-Pass-77') && !r.stdout.includes('Pack-Proxy-Pass-77'));
  });
});
