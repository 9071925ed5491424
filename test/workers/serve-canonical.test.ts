/**
 * The JIT `/v1/secrets` shortcut (workers/canonical.ts): once a worker has proven that an
 * artifact's plaintext is byte-identical to its serialized body, it returns the plaintext as the
 * body. These tests pin that the shortcut never changes an answer: every body equals the cached-mode
 * serializer's, for canonical and non-canonical payloads, for a forged hash, and across artifacts.
 */
import assert from 'node:assert/strict';
import { before, beforeEach, describe, test } from 'node:test';
import fc from 'fast-check';
import type { EncryptedArtifact, ServeResult, Span, WorkerInit } from '../../common/protocol.js';
import { knownCanonical } from '../../workers/canonical.js';
import { runTask } from '../../workers/index.js';
import { dropKeyCache } from '../../workers/keys.js';
import { buildSnapshot, parsePayload } from '../../workers/payload.js';
import { ageKeygen, ageLibEncrypt, sha256Hex, RUNS, type AgeKeyPair, inlineKey } from './helpers.js';

let pair: AgeKeyPair;
let init: WorkerInit;
before(() => {
  pair = ageKeygen();
  init = inlineKey(pair.identity);
});
beforeEach(() => {
  dropKeyCache();
});

async function sealed(plaintext: string): Promise<EncryptedArtifact> {
  const file = await ageLibEncrypt(plaintext, pair.recipient);
  return { ciphertextHash: sha256Hex(file), ageFile: new Uint8Array(file) };
}

async function secretsBody(artifact: EncryptedArtifact): Promise<Buffer> {
  const r = (await runTask({ type: 'serve', artifact, request: { route: 'secrets' } }, init)) as ServeResult;
  assert.ok(r.ok && r.status === 200, JSON.stringify(r));
  // The body is transferred as a whole ArrayBuffer and wiped as one: it must own it exactly.
  assert.equal(r.body.byteOffset, 0);
  assert.equal(r.body.buffer.byteLength, r.body.byteLength);
  return Buffer.from(r.body);
}

/** What cached mode serves for the same plaintext: the oracle. */
function cachedBody(plaintext: string): string {
  const payload = parsePayload(Buffer.from(plaintext, 'utf8'));
  assert.ok(!('ok' in payload));
  const snap = buildSnapshot(payload);
  const s: Span = snap.secrets;
  return Buffer.from(snap.arena.buffer, snap.arena.byteOffset + s.offset, s.length).toString('utf8');
}

describe('JIT /v1/secrets: plaintext as body once proven canonical', () => {
  test('a compact payload (as clef-agent pack writes it) is proven once, then served as is', async () => {
    const plaintext = JSON.stringify({ app: { DATABASE_URL: 'postgres://u:SECRET@db/app', '42': 'x' }, web: { 'é"\\': 'ü\n' } });
    const a = await sealed(plaintext);
    assert.equal(knownCanonical(a), undefined);
    const first = await secretsBody(a);
    assert.equal(knownCanonical(a), true);
    const second = await secretsBody(a);
    assert.equal(first.toString('utf8'), cachedBody(plaintext));
    assert.ok(second.equals(first));
  });

  test('a payload with other formatting is never served as is', async () => {
    // Whitespace, escapes JSON.stringify would not write, in a value and in a name.
    const plaintext = '{ "app": {\n  "A": "\\u0041", "\\u0042": "2"\n} }\n';
    const a = await sealed(plaintext);
    const first = await secretsBody(a);
    assert.equal(knownCanonical(a), false);
    const second = await secretsBody(a);
    assert.equal(first.toString('utf8'), '{"app":{"A":"A","B":"2"}}');
    assert.ok(second.equals(first));
  });

  test('the verdict is for exact sealed bytes: a reused hash with other bytes takes the full path', async () => {
    const canonical = await sealed('{"A":"1"}');
    await secretsBody(canonical);
    assert.equal(knownCanonical(canonical), true);
    const other = await sealed('{ "A" : "2" }');
    const forged: EncryptedArtifact = { ciphertextHash: canonical.ciphertextHash, ageFile: other.ageFile };
    assert.equal(knownCanonical(forged), undefined);
    assert.equal((await secretsBody(forged)).toString('utf8'), '{"A":"2"}');
  });

  test('other routes are unaffected by a verdict', async () => {
    const a = await sealed('{"app":{"B":"2","A":"1"}}');
    await secretsBody(a);
    const keys = (await runTask({ type: 'serve', artifact: a, request: { route: 'keys' } }, init)) as ServeResult;
    assert.ok(keys.ok && keys.status === 200);
    assert.equal(Buffer.from(keys.body).toString('utf8'), '["app__A","app__B"]');
    const one = (await runTask({ type: 'serve', artifact: a, request: { route: 'secret', name: 'app__A', plain: true } }, init)) as ServeResult;
    assert.ok(one.ok && one.status === 200);
    assert.equal(Buffer.from(one.body).toString('utf8'), '1');
  });

  test('property: every JIT body equals the cached body, first request and later ones, whatever the formatting', async () => {
    const name = fc.string({ minLength: 1, maxLength: 8, unit: 'binary' });
    const payload = fc.oneof(
      fc.dictionary(name, fc.string({ unit: 'binary' }), { maxKeys: 6 }),
      fc.dictionary(name, fc.dictionary(name, fc.string({ unit: 'binary' }), { minKeys: 1, maxKeys: 4 }), { minKeys: 1, maxKeys: 3 }),
    );
    await fc.assert(
      fc.asyncProperty(payload, fc.constantFrom(undefined, 1, '\t'), async (p, indent) => {
        const plaintext = JSON.stringify(p, null, indent);
        const a = await sealed(plaintext);
        const expected = cachedBody(plaintext);
        for (let i = 0; i < 3; i++) assert.equal((await secretsBody(a)).toString('utf8'), expected);
        assert.equal(knownCanonical(a), expected === plaintext);
      }),
      { numRuns: Math.min(RUNS, 100) },
    );
  });
});
