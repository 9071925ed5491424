import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { suiteTempDirs } from '../kit/index.js';
import { fetchSource } from '../../workers/fetch/index.js';

const policy = { timeoutMs: 1000, maxBytes: 100_000, retries: 0, allowHttp: false };
const dir = suiteTempDirs('clef-workers-file-').make();

describe('file fetch', () => {
  test('reads a file up to and including the cap, without a marker', async () => {
    const p = join(dir, 'exact.json');
    writeFileSync(p, Buffer.alloc(policy.maxBytes, 0x61));
    const r = await fetchSource({ kind: 'file', path: p }, policy, 'ignored');
    assert.ok(!('ok' in r) && r.kind === 'bytes');
    assert.equal(r.bytes.length, policy.maxBytes);
    assert.equal(r.marker, undefined);
  });

  test('one byte over the cap is too_large naming the cap', async () => {
    const p = join(dir, 'big.json');
    writeFileSync(p, Buffer.alloc(policy.maxBytes + 1));
    const r = await fetchSource({ kind: 'file', path: p }, policy, undefined);
    assert.ok('ok' in r && r.code === 'too_large');
    assert.match(r.message, /100000-byte cap/);
  });

  test('a missing file or a directory is source_unreadable with the path and errno code', async () => {
    const missing = join(dir, 'missing.json');
    const r = await fetchSource({ kind: 'file', path: missing }, policy, undefined);
    assert.ok('ok' in r && r.code === 'source_unreadable');
    assert.ok(r.message.includes(missing) && r.message.includes('ENOENT'), r.message);
    const d = await fetchSource({ kind: 'file', path: dir }, policy, undefined);
    assert.ok('ok' in d && d.code === 'source_unreadable');
    assert.match(d.message, /EISDIR/);
  });
});
