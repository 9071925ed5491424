/**
 * `clef-agent pack --kms-key-id` / `--sign-kms-key-id` against the local KMS server, through the
 * built CLI as a child process (the real SDK, AWS_ENDPOINT_URL_KMS): the artifact's envelope, the
 * printed verify key (GetPublicKey), the agent's worker decrypting and verifying what pack made,
 * the flag rules, and KMS failures turned into clear messages and exit codes.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LoadResult } from '../../common/protocol.js';
import { runTask } from '../../workers/index.js';
import { KmsServer } from '../../emulators/kms-server.js';
import { CLI, FIELD_ORDER, SECRET } from './helpers.js';
import { runNode, tempDir, type RunResult } from '../kit/index.js';

let kms: KmsServer;
let keyId: string;
let signKeyId: string;

before(async () => {
  kms = await new KmsServer().start();
  // The worker code run in-process below reads the same variables as the CLI child.
  Object.assign(process.env, kms.env());
  keyId = kms.createKey();
  signKeyId = kms.createSigningKey();
});
after(() => kms.close());

/** The CLI as a child, asynchronously: the KMS server answering it lives in this process. */
function pack(argv: readonly string[]): Promise<RunResult> {
  return runNode(CLI, argv, { env: kms.env(), timeoutMs: 20_000 });
}

function setup(t: { after(fn: () => void): void }): { dir: string; payload: string; base: string[] } {
  const dir = tempDir(t);
  const payload = join(dir, 'payload.json');
  writeFileSync(payload, JSON.stringify({ app: { API_KEY: SECRET } }));
  return { dir, payload, base: ['--payload', payload, '--identity', 'api', '--environment', 'prod'] };
}

async function loadWithAgentWorker(dir: string, json: string, verifyKey?: string): Promise<LoadResult> {
  const path = join(dir, 'artifact.json');
  writeFileSync(path, json);
  return (await runTask(
    {
      type: 'load',
      mode: 'cached',
      source: { kind: 'file', path },
      fetch: { timeoutMs: 2000, maxBytes: 1 << 20, retries: 0, allowHttp: false },
      validation: { nowMs: Date.now(), verifyKey },
    },
    {},
  )) as LoadResult;
}

describe('clef-agent pack with AWS KMS', () => {
  test('--kms-key-id --sign-kms-key-id: an envelope artifact, the GetPublicKey verify key, and the agent opens and verifies it', async (t) => {
    const { dir, base } = setup(t);
    const before = kms.calls.length;
    const r = await pack([...base, '--kms-key-id', keyId, '--sign-kms-key-id', signKeyId]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(
      kms.calls.slice(before).map((c) => `${c.op}:${c.outcome}`),
      ['GetPublicKey:ok', 'GenerateDataKey:ok', 'Sign:ok'],
    );
    const a = JSON.parse(r.stdout) as Record<string, unknown> & { envelope: Record<string, string> };
    assert.deepEqual(Object.keys(a), [...FIELD_ORDER, 'envelope', 'signature', 'signatureAlgorithm']);
    assert.deepEqual(Object.keys(a.envelope), ['provider', 'keyId', 'wrappedKey', 'algorithm', 'iv', 'authTag']);
    assert.equal(a.envelope['provider'], 'aws');
    assert.equal(a.envelope['keyId'], keyId);
    assert.equal(a.envelope['algorithm'], 'SYMMETRIC_DEFAULT');
    assert.equal(Buffer.from(a.envelope['iv'] ?? '', 'base64').length, 12);
    assert.equal(Buffer.from(a.envelope['authTag'] ?? '', 'base64').length, 16);
    assert.equal(a['signatureAlgorithm'], 'ECDSA_SHA256');
    const verifyKey = /^CLEF_AGENT_VERIFY_KEY=(\S+)$/m.exec(r.stderr)?.[1];
    assert.ok(verifyKey !== undefined, r.stderr);
    assert.ok(!r.stdout.includes(SECRET) && !r.stderr.includes(SECRET));

    const loaded = await loadWithAgentWorker(dir, r.stdout, verifyKey);
    assert.ok(loaded.ok && loaded.outcome === 'loaded' && loaded.meta.signed && loaded.meta.encryption === 'kms', JSON.stringify(loaded));
    assert.match(Buffer.from(loaded.snapshot.arena).toString('utf8'), new RegExp(SECRET));
    // The signature covers the envelope: moving the artifact to another key id is caught.
    const moved = JSON.stringify({ ...a, envelope: { ...a.envelope, keyId: kms.createKey() } });
    const refused = await loadWithAgentWorker(dir, moved, verifyKey);
    assert.ok(!refused.ok && refused.code === 'signature_invalid');
  });

  test('--out: the artifact goes to the file, the verify key to stdout; unsigned KMS artifacts get the signing note', async (t) => {
    const { dir, base } = setup(t);
    const out = join(dir, 'out.json');
    const signed = await pack([...base, '--kms-key-id', keyId, '--sign-kms-key-id', signKeyId, '--out', out]);
    assert.equal(signed.code, 0, signed.stderr);
    assert.match(signed.stdout, /^CLEF_AGENT_VERIFY_KEY=/);
    const unsigned = await pack([...base, '--kms-key-id', keyId]);
    assert.equal(unsigned.code, 0, unsigned.stderr);
    assert.match(unsigned.stderr, /unsigned.*--sign-kms-key-id/);
    assert.ok((await loadWithAgentWorker(dir, unsigned.stdout)).ok);
  });

  test('flag rules: --kms-key-id excludes --recipient and --armor; --sign-key excludes --sign-kms-key-id (exit 2, no KMS call)', async (t) => {
    const { dir, base } = setup(t);
    const keyFile = join(dir, 'k.pem');
    writeFileSync(keyFile, 'unused');
    const n = kms.calls.length;
    const cases: [string[], RegExp][] = [
      [['--kms-key-id', keyId, '--recipient', 'age1qqqq'], /--kms-key-id and --recipient are exclusive/],
      [['--kms-key-id', keyId, '--armor'], /--armor applies to age files only/],
      [['--kms-key-id', keyId, '--sign-key', keyFile, '--sign-kms-key-id', signKeyId], /--sign-key and --sign-kms-key-id are exclusive/],
    ];
    for (const [extra, message] of cases) {
      const r = await pack([...base, ...extra]);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
    }
    assert.equal(kms.calls.length, n);
  });

  test('KMS failures: denied is exit 1, an unknown or unusable key is exit 2, each naming the flag and the exception', async (t) => {
    const { base } = setup(t);
    kms.deny = true;
    let r: RunResult;
    try {
      r = await pack([...base, '--kms-key-id', keyId]);
    } finally {
      kms.deny = false;
    }
    assert.equal(r.code, 1);
    assert.match(r.stderr, /KMS GenerateDataKey failed for --kms-key-id \(AccessDeniedException\)/);
    r = await pack([...base, '--kms-key-id', 'arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-0000-0000-000000000000']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /NotFoundException/);
    r = await pack([...base, '--kms-key-id', keyId, '--sign-kms-key-id', keyId]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /KMS GetPublicKey failed for --sign-kms-key-id/);
    assert.ok(!r.stderr.includes(SECRET));
  });

  test('endpoints: plain http to a non-loopback KMS or STS is refused before any call (GenerateDataKey returns the data key), exit 2', async (t) => {
    const { base } = setup(t);
    const expected = 'expected an https:// URL, an http:// URL to a loopback host (127.0.0.0/8, ::1, localhost), or CLEF_AGENT_ALLOW_HTTP=true';
    const run = (env: Record<string, string>): Promise<RunResult> =>
      runNode(CLI, [...base, '--kms-key-id', keyId], { env: { ...kms.env(), ...env }, timeoutMs: 20_000 });
    const cases: Array<[Record<string, string>, string]> = [
      [
        { AWS_ENDPOINT_URL_KMS: 'http://kms.invalid:4566' },
        'AWS_ENDPOINT_URL_KMS: "http://kms.invalid:4566/" uses plain http to a non-loopback host, which would carry the AWS session token and the data keys KMS returns unencrypted',
      ],
      [
        { AWS_ENDPOINT_URL_STS: 'http://sts.invalid' },
        'AWS_ENDPOINT_URL_STS: "http://sts.invalid/" uses plain http to a non-loopback host, which would carry the web identity token and the credentials STS returns unencrypted',
      ],
      [{ AWS_ENDPOINT_URL: 'https://ak:PackEndpointPw@[x' }, 'AWS_ENDPOINT_URL: is not a valid URL'],
    ];
    const n = kms.calls.length;
    for (const [env, line] of cases) {
      const r = await run(env);
      assert.equal(r.code, 2, r.stderr);
      assert.ok(r.stderr.includes(`${line}; ${expected}`), r.stderr);
      assert.ok(!r.stderr.includes('PackEndpointPw') && r.stdout === '', r.stderr);
    }
    const bad = await run({ CLEF_AGENT_ALLOW_HTTP: 'yes' });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /CLEF_AGENT_ALLOW_HTTP: "yes" is not a boolean; expected true, false, 1 or 0/);
    assert.equal(kms.calls.length, n, 'no KMS call was made');
    // CLEF_AGENT_ALLOW_HTTP=true lifts the rule: the call is attempted (and fails: no such host).
    const lifted = await run({ AWS_ENDPOINT_URL_KMS: 'http://kms.invalid:4566', CLEF_AGENT_ALLOW_HTTP: 'true' });
    assert.equal(lifted.code, 1, lifted.stderr);
    assert.match(lifted.stderr, /KMS GetPublicKey failed|KMS GenerateDataKey failed/);
    // A loopback http endpoint (the local KMS server) needs nothing.
    assert.equal((await run({})).code, 0);
  });
});
