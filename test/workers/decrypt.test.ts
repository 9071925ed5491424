import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { suiteTempDirs } from '../kit/index.js';
import type { LoadResult, LoadTask, WorkerInit } from '../../common/protocol.js';
import { runTask } from '../../workers/index.js';
import { ageCliEncrypt, ageKeygen, makeArtifact, NOW_MS, sha256Hex, type AgeKeyPair, spanText, inlineKey } from './helpers.js';

const PAYLOAD = '{"app":{"DATABASE_URL":"postgres://u:SECRET@db/app"},"payments":{"STRIPE_KEY":"sk_live_SECRET"}}';
const dir = suiteTempDirs('clef-workers-decrypt-').make();
let pair: AgeKeyPair;
let other: AgeKeyPair;
let seq = 0;

before(() => {
  pair = ageKeygen();
  other = ageKeygen();
});

/** Writes `artifact` to a fresh file and runs the load task on it in-process. */
async function loadFile(artifact: unknown, init: WorkerInit, extra: Partial<LoadTask> = {}): Promise<LoadResult> {
  const path = join(dir, `a${seq++}.json`);
  writeFileSync(path, typeof artifact === 'string' ? artifact : JSON.stringify(artifact));
  const task: LoadTask = {
    type: 'load',
    mode: 'cached',
    source: { kind: 'file', path },
    fetch: { timeoutMs: 2000, maxBytes: 1 << 20, retries: 0, allowHttp: false },
    validation: { nowMs: NOW_MS },
    ...extra,
  };
  return (await runTask(task, init)) as LoadResult;
}

function assertCode(r: LoadResult, code: string): string {
  assert.equal(r.ok, false, JSON.stringify(r));
  assert.ok(!r.ok);
  assert.equal(r.code, code, r.message);
  assert.doesNotMatch(r.message, /SECRET|AGE-SECRET-KEY/);
  return r.message;
}

describe('age decryption through the load task', () => {
  test('a binary artifact made by the reference age CLI decrypts and yields a snapshot', async () => {
    const r = await loadFile(makeArtifact(ageCliEncrypt(PAYLOAD, pair.recipient)), inlineKey(pair.identity));
    assert.ok(r.ok && r.outcome === 'loaded', JSON.stringify(r));
    assert.equal(spanText(r.snapshot.arena, r.snapshot.secrets), PAYLOAD);
    assert.deepEqual(JSON.parse(spanText(r.snapshot.arena, r.snapshot.keys)), ['app__DATABASE_URL', 'payments__STRIPE_KEY']);
    assert.equal(r.meta.encryption, 'age');
    assert.equal(r.meta.revision, 'rev-1');
    assert.match(r.bytesHash, /^[0-9a-f]{64}$/);
  });

  test('an ASCII-armored artifact (age -a) decrypts', async () => {
    const file = ageCliEncrypt('{"API_KEY":"flat-SECRET"}', pair.recipient, true);
    assert.match(file.toString('utf8'), /^-----BEGIN AGE ENCRYPTED FILE-----/);
    const r = await loadFile(makeArtifact(file), inlineKey(pair.identity));
    assert.ok(r.ok && r.outcome === 'loaded', JSON.stringify(r));
    assert.equal(r.snapshot.entries[0]?.qualified, 'API_KEY');
    assert.equal(spanText(r.snapshot.arena, r.snapshot.entries[0].value), 'flat-SECRET');
  });

  test('a key file with comments and blank lines (age-keygen format) works', async () => {
    const keyFile = join(dir, 'key.txt');
    writeFileSync(keyFile, `# created: 2025-01-01T00:00:00Z\n# public key: ${pair.recipient}\n\n${pair.identity}\n`);
    const r = await loadFile(makeArtifact(ageCliEncrypt('{}', pair.recipient)), { ageKey: { kind: 'file', path: keyFile } });
    assert.ok(r.ok && r.outcome === 'loaded', JSON.stringify(r));
    assert.equal(r.snapshot.entries.length, 0);
  });

  test('the wrong age key is decrypt_failed without any secret in the message', async () => {
    const msg = assertCode(await loadFile(makeArtifact(ageCliEncrypt(PAYLOAD, pair.recipient)), inlineKey(other.identity)), 'decrypt_failed');
    assert.match(msg, /not a recipient/);
  });

  test('a corrupted age file with a matching hash is decrypt_failed', async () => {
    const file = ageCliEncrypt(PAYLOAD, pair.recipient);
    const last = file.length - 1;
    file[last] = (file[last] ?? 0) ^ 0xff;
    assertCode(await loadFile(makeArtifact(file), inlineKey(pair.identity)), 'decrypt_failed');
  });

  test('a KMS envelope from an unsupported provider is unsupported_encryption naming it (KMS itself: test/workers/kms-*.test.ts)', async () => {
    const envelope = { provider: 'gcp', keyId: 'k', wrappedKey: 'd2s=', algorithm: 'SYMMETRIC_DEFAULT', iv: 'aXY=', authTag: 'dGFn' };
    const msg = assertCode(await loadFile(makeArtifact(Buffer.from('x'), { envelope }), inlineKey(pair.identity)), 'unsupported_encryption');
    assert.match(msg, /"gcp".*"aws"/);
  });

  test('no configured key is no_key', async () => {
    assertCode(await loadFile(makeArtifact(ageCliEncrypt(PAYLOAD, pair.recipient)), {}), 'no_key');
  });

  test('an invalid payload inside a valid artifact is invalid_payload', async () => {
    const r = await loadFile(makeArtifact(ageCliEncrypt('{"app":{"PORT":5432}}', pair.recipient)), inlineKey(pair.identity));
    assert.match(assertCode(r, 'invalid_payload'), /"PORT"/);
  });

  test('identical bytes are unchanged without decryption; revocation is reported', async () => {
    const artifact = JSON.stringify(makeArtifact(ageCliEncrypt(PAYLOAD, pair.recipient)));
    // No key configured: had it tried to decrypt, this would be no_key.
    const r = await loadFile(artifact, {}, { bytesHash: sha256Hex(artifact) });
    assert.deepEqual(r, { ok: true, outcome: 'unchanged', marker: undefined });
    const rev = await loadFile('{"revokedAt":"2025-06-01T00:00:00Z","garbage":', {});
    assertCode(rev, 'invalid_json');
    const rev2 = await loadFile({ revokedAt: '2025-06-01T00:00:00Z' }, {});
    assert.deepEqual(rev2, { ok: true, outcome: 'revoked', revokedAt: '2025-06-01T00:00:00Z' });
  });
});

describe('checkKey', () => {
  test('a valid inline key passes', async () => {
    assert.deepEqual(await runTask({ type: 'checkKey' }, inlineKey(`  ${pair.identity}\n`)), { ok: true });
  });

  test('an invalid inline key is key_invalid naming the variable, never echoing the key', async () => {
    for (const bad of ['hunter2', 'AGE-SECRET-KEY-1QQQQ', pair.identity.slice(0, -1) + (pair.identity.endsWith('Q') ? 'P' : 'Q'), '# only a comment\n']) {
      const r = await runTask({ type: 'checkKey' }, inlineKey(bad));
      assert.ok(!r.ok);
      assert.equal(r.code, 'key_invalid');
      assert.match(r.message, /CLEF_AGENT_AGE_KEY is not a valid age secret key.*AGE-SECRET-KEY-1… \(X25519\)/);
      assert.ok(!r.message.includes(bad.trim()) || bad.startsWith('#'));
      assert.doesNotMatch(r.message, /hunter2|QQQQ/);
    }
    const bin = await runTask({ type: 'checkKey' }, { ageKey: { kind: 'inline', bytes: Uint8Array.from([0xff, 0xfe]) } });
    assert.ok(!bin.ok && bin.code === 'key_invalid');
  });

  test('an unreadable key file is key_unreadable naming the path; a file without a key is key_invalid', async () => {
    const missing = join(dir, 'nope.txt');
    const r = await runTask({ type: 'checkKey' }, { ageKey: { kind: 'file', path: missing } });
    assert.ok(!r.ok);
    assert.equal(r.code, 'key_unreadable');
    assert.ok(r.message.includes(missing));
    assert.match(r.message, /ENOENT/);
    const empty = join(dir, 'empty.txt');
    writeFileSync(empty, '# nothing here\n');
    const e = await runTask({ type: 'checkKey' }, { ageKey: { kind: 'file', path: empty } });
    assert.ok(!e.ok && e.code === 'key_invalid' && e.message.includes('CLEF_AGENT_AGE_KEY_FILE'));
  });

  test('no key configured is no_key', async () => {
    const r = await runTask({ type: 'checkKey' }, {});
    assert.ok(!r.ok && r.code === 'no_key');
  });
});
