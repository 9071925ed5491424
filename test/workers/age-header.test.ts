/**
 * workers/decrypt/age-header.ts (the age header on node:crypto) against the references: files from
 * the Go `age` CLI and age-encryption, headers built here with stanzas of every shape, and
 * fast-check mutations of real headers. Whatever it decides must be what age-encryption's
 * `decryptHeader` decides (same file key, "no identity matched", or another refusal); what it
 * leaves to the reference (`'reference'`) must still decrypt through `AgeFastDecrypter`. That a
 * worker does not load age-encryption for a binary file: test/workers/lazy-modules.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHmac, createPublicKey, diffieHellman, generateKeyPairSync, hkdfSync, randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { bech32 } from '@scure/base';
import { Decrypter, identityToRecipient } from 'age-encryption';
import fc from 'fast-check';
import { AgeFastDecrypter } from '../../workers/decrypt/age-fast.js';
import { unwrapHeader, type HeaderResult } from '../../workers/decrypt/age-header.js';
import { AgeIdentities } from '../../workers/decrypt/age-identity.js';
import { splitHeader } from '../../workers/decrypt/age-stream.js';
import { ageKeygen, ageLibEncrypt, sha256Hex, type AgeKeyPair } from './helpers.js';

const RUNS = process.env['SLOW'] === '1' ? 2000 : 300;

type Reference = { kind: 'key'; key: Buffer } | { kind: 'no_identity' } | { kind: 'refused' };

async function reference(header: Uint8Array, identities: readonly string[]): Promise<Reference> {
  const d = new Decrypter();
  for (const i of identities) d.addIdentity(i);
  try {
    return { kind: 'key', key: Buffer.from(await d.decryptHeader(header)) };
  } catch (err) {
    return /no identity matched/i.test((err as Error).message) ? { kind: 'no_identity' } : { kind: 'refused' };
  }
}

function native(header: Uint8Array, identities: readonly string[]): HeaderResult {
  return unwrapHeader(header, AgeIdentities.parse(identities).keys);
}

/** Asserts `native` agrees with the reference; returns whether it decided at all. */
async function agrees(header: Uint8Array, identities: readonly string[]): Promise<boolean> {
  const n = native(header, identities);
  if (n === 'reference') return false;
  const r = await reference(header, identities);
  if ('fileKey' in n) {
    assert.equal(r.kind, 'key', 'native unwrapped a header the reference refuses');
    assert.ok(r.kind === 'key' && r.key.equals(n.fileKey), 'native and reference file keys differ');
  } else if (n.failure === 'no_identity') {
    assert.equal(r.kind, 'no_identity');
  } else {
    assert.equal(r.kind, 'refused');
  }
  return true;
}

/** The 32-byte X25519 public key of an `age1…` recipient. */
function recipientBytes(recipient: string): Buffer {
  return Buffer.from(bech32.decodeToBytes(recipient).bytes);
}

const SPKI = Buffer.from('302a300506032b656e032100', 'hex');
const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64').replace(/=+$/, '');

interface StanzaText {
  readonly args: readonly string[];
  readonly body: Uint8Array;
}

/** An X25519 stanza wrapping `fileKey` to `recipient` (age spec), built independently of the agent's code. */
function x25519Stanza(recipient: Buffer, fileKey: Buffer): StanzaText {
  const eph = generateKeyPairSync('x25519');
  const share = eph.publicKey.export({ format: 'der', type: 'spki' }).subarray(SPKI.length);
  const secret = diffieHellman({
    privateKey: eph.privateKey,
    publicKey: createPublicKey({ key: Buffer.concat([SPKI, recipient]), format: 'der', type: 'spki' }),
  });
  const key = Buffer.from(hkdfSync('sha256', secret, Buffer.concat([share, recipient]), 'age-encryption.org/v1/X25519', 32));
  const c = createCipheriv('chacha20-poly1305', key, Buffer.alloc(12), { authTagLength: 16 });
  const body = Buffer.concat([c.update(fileKey), c.final(), c.getAuthTag()]);
  return { args: ['X25519', b64(share)], body };
}

/** A header with these stanzas (bodies wrapped at 64 columns), MAC'd with `fileKey` unless `mac` is given. */
function header(stanzas: readonly StanzaText[], fileKey: Buffer, mac?: string): Buffer {
  let text = 'age-encryption.org/v1\n';
  for (const s of stanzas) {
    text += `-> ${s.args.join(' ')}\n`;
    const body = b64(s.body);
    for (let i = 0; i <= body.length; i += 64) text += `${body.slice(i, i + 64)}\n`;
  }
  text += '---';
  const hmacKey = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
  return Buffer.from(`${text} ${mac ?? b64(createHmac('sha256', hmacKey).update(text).digest())}\n`, 'latin1');
}

let a: AgeKeyPair;
let b: AgeKeyPair;
let c: AgeKeyPair;
before(() => {
  [a, b, c] = [ageKeygen(), ageKeygen(), ageKeygen()];
});

describe('age header on node:crypto: known answers from the references', () => {
  test('identities: the same recipient as age-encryption, and the second of two keys is found', () => {
    const ids = AgeIdentities.parse([a.identity, b.identity]);
    assert.ok(ids.keys[0]?.recipient.equals(recipientBytes(a.recipient)));
    assert.ok(ids.keys[1]?.recipient.equals(recipientBytes(b.recipient)));
  });

  test('files from the Go age CLI (one to three recipients) unwrap to the reference file key', async () => {
    for (const recipients of [[a], [a, b], [b, a], [c, b, a]]) {
      const multi = ageCliMulti(recipients.map((r) => r.recipient));
      const { header: h } = splitHeader(multi);
      for (const ids of [[a.identity], [c.identity, a.identity], [b.identity]]) {
        const n = native(h, ids);
        const r = await reference(h, ids);
        assert.ok(n !== 'reference', 'a CLI header is inside the subset');
        if (r.kind === 'key') assert.ok('fileKey' in n && n.fileKey.equals(r.key));
        else assert.ok('failure' in n && n.failure === 'no_identity' && r.kind === 'no_identity');
      }
    }
  });

  test('files from age-encryption unwrap to its own file key; a stranger gets no_identity', async () => {
    for (let i = 0; i < 5; i++) {
      const { header: h } = splitHeader(await ageLibEncrypt(`payload ${i}`, a.recipient));
      assert.ok(await agrees(h, [a.identity]));
      assert.deepEqual(native(h, [b.identity]), { failure: 'no_identity' });
      assert.ok(await agrees(h, [b.identity]));
    }
  });

  test('other stanzas of any shape (grease, multi-line bodies, exact multiples of 48 bytes) are skipped like the reference skips them', async () => {
    const fileKey = randomBytes(16);
    const me = x25519Stanza(recipientBytes(a.recipient), fileKey);
    for (const len of [0, 1, 47, 48, 49, 96, 200]) {
      const grease: StanzaText = { args: ['x-grease', 'A+b/', '!#$%&'], body: randomBytes(len) };
      for (const order of [
        [grease, me],
        [me, grease],
      ]) {
        const h = header(order, fileKey);
        const n = native(h, [a.identity]);
        assert.ok(n !== 'reference' && 'fileKey' in n && n.fileKey.equals(fileKey), `grease body of ${len} bytes`);
        assert.ok(await agrees(h, [a.identity]));
      }
    }
  });

  test('a changed MAC is a header failure; a stanza for someone else only is no_identity', async () => {
    const fileKey = randomBytes(16);
    const good = header([x25519Stanza(recipientBytes(a.recipient), fileKey)], fileKey);
    const badMac = header([x25519Stanza(recipientBytes(a.recipient), fileKey)], fileKey, b64(randomBytes(32)));
    assert.deepEqual(native(badMac, [a.identity]), { failure: 'header' });
    assert.ok(await agrees(badMac, [a.identity]));
    assert.deepEqual(native(good, [b.identity, c.identity]), { failure: 'no_identity' });
    assert.ok(await agrees(good, [b.identity, c.identity]));
  });

  test('left to the reference: low-order shares, malformed X25519 stanzas, non-canonical base64, CRLF, a short MAC', async () => {
    const fileKey = randomBytes(16);
    const me = x25519Stanza(recipientBytes(a.recipient), fileKey);
    const share = me.args[1] ?? '';
    // The last base64 character of a 32-byte value carries 4 unused bits: setting one is non-canonical.
    const nonCanonical = share.slice(0, -1) + (B64[B64.indexOf(share.slice(-1)) ^ 1] ?? '');
    const cases: Record<string, Buffer> = {
      'low-order share (all zero)': header([{ args: ['X25519', b64(Buffer.alloc(32))], body: randomBytes(32) }, me], fileKey),
      'an X25519 stanza with three arguments': header([{ args: ['X25519', share, 'extra'], body: me.body }], fileKey),
      'an X25519 body of 31 bytes': header([{ args: ['X25519', share], body: me.body.subarray(0, 31) }], fileKey),
      'a malformed X25519 stanza after the good one': header([me, { args: ['X25519'], body: randomBytes(32) }], fileKey),
      'non-canonical base64 in the share': header([{ args: ['X25519', nonCanonical], body: me.body }], fileKey),
      'CRLF line ends': Buffer.from(header([me], fileKey).toString('latin1').replace(/\n/g, '\r\n'), 'latin1'),
      'a 16-byte MAC': header([me], fileKey, b64(randomBytes(16))),
    };
    for (const [name, h] of Object.entries(cases)) {
      assert.equal(native(h, [a.identity]), 'reference', name);
    }
    // The reference still has the last word: the good stanza first, a malformed one after it, is
    // accepted by age-encryption, so the whole file decrypts through the fallback.
    const plain = Buffer.from('{"app":{"K":"fallback"}}');
    const file = reMac(await ageLibEncrypt(plain.toString(), a.recipient), (h, key) => header([...h, { args: ['X25519'], body: randomBytes(32) }], key));
    assert.equal(native(splitHeader(file).header, [a.identity]), 'reference');
    const out = await new AgeFastDecrypter(a.identity).decrypt(sha256Hex(file), file);
    assert.ok(out.equals(plain));
  });
});

describe('age header on node:crypto: differential fuzz against age-encryption', () => {
  let bases: Buffer[] = [];
  before(async () => {
    const fileKey = randomBytes(16);
    bases = [
      Buffer.from(splitHeader(ageCliMulti([a.recipient, b.recipient])).header),
      Buffer.from(splitHeader(await ageLibEncrypt('x', a.recipient)).header),
      header([{ args: ['grease', 'x'], body: randomBytes(50) }, x25519Stanza(recipientBytes(a.recipient), fileKey)], fileKey),
    ];
  });

  const PIECES = [' ', '\n', '-> ', '->', '--- ', 'X25519 ', 'A', '/', '=', '\r', '\x00', '\xff', 'age-encryption.org/v1\n'];

  test('mutated headers: native decides as the reference does, or leaves it to the reference', async () => {
    let decided = 0;
    let total = 0;
    const mutation = fc.record({
      base: fc.nat({ max: 2 }),
      kind: fc.constantFrom('flip', 'base64', 'base64', 'insert', 'delete', 'duplicate-line'),
      at: fc.nat(),
      xor: fc.integer({ min: 1, max: 255 }),
      piece: fc.constantFrom(...PIECES),
      len: fc.integer({ min: 1, max: 8 }),
    });
    await fc.assert(
      fc.asyncProperty(mutation, async (m) => {
        const h = bases[m.base] ?? Buffer.alloc(0);
        const at = m.at % h.length;
        let out: Buffer;
        if (m.kind === 'flip') {
          out = Buffer.from(h);
          out[at]! ^= m.xor;
        } else if (m.kind === 'base64') {
          // Another base64 character where one was: stays in the grammar, changes a share, a wrapped key or the MAC.
          out = Buffer.from(h);
          if (/[A-Za-z0-9+/]/.test(String.fromCharCode(out[at] ?? 0))) out[at] = B64.charCodeAt(m.xor % 64);
        } else if (m.kind === 'insert') {
          out = Buffer.concat([h.subarray(0, at), Buffer.from(m.piece, 'latin1'), h.subarray(at)]);
        } else if (m.kind === 'delete') {
          out = Buffer.concat([h.subarray(0, at), h.subarray(at + m.len)]);
        } else {
          const lines = h.toString('latin1').split('\n');
          const i = at % Math.max(1, lines.length - 1);
          lines.splice(i, 0, lines[i] ?? '');
          out = Buffer.from(lines.join('\n'), 'latin1');
        }
        total++;
        if (await agrees(out, [a.identity, c.identity])) decided++;
      }),
      { numRuns: RUNS },
    );
    // Not vacuous: a base64 character changed in place mostly stays in the subset (then it is a MAC
    // or unwrap failure, or a non-canonical last character left to the reference).
    assert.ok(decided > total / 5, `native decided only ${decided} of ${total}`);
  });

  test('identity lines: accepted exactly when age-encryption accepts them', async () => {
    const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l'.toUpperCase();
    const edit = fc.record({
      at: fc.nat(),
      ch: fc.constantFrom(...CHARSET, 'a', 'B', 'O', 'I', '1', '-', ' '),
      kind: fc.constantFrom('set', 'insert', 'delete', 'lower'),
    });
    await fc.assert(
      fc.asyncProperty(edit, async (e) => {
        const s = a.identity;
        const at = e.at % s.length;
        const line =
          e.kind === 'set'
            ? s.slice(0, at) + e.ch + s.slice(at + 1)
            : e.kind === 'insert'
              ? s.slice(0, at) + e.ch + s.slice(at)
              : e.kind === 'delete'
                ? s.slice(0, at) + s.slice(at + 1)
                : s.slice(0, at) + s.slice(at).toLowerCase();
        let ours = true;
        try {
          AgeIdentities.parse([line]);
        } catch {
          ours = false;
        }
        let theirs = true;
        try {
          new Decrypter().addIdentity(line);
          // The library defers the public key (and its own checks) to first use.
          await identityToRecipient(line);
        } catch {
          theirs = false;
        }
        assert.equal(ours, theirs, `identity edit ${e.kind} at ${at}`);
      }),
      { numRuns: RUNS },
    );
  });
});

/** Encrypts with the Go CLI to several recipients at once. */
function ageCliMulti(recipients: readonly string[]): Buffer {
  return execFileSync(
    'age',
    recipients.flatMap((r) => ['-r', r]),
    { input: '{"app":{"K":"v"}}', stdio: ['pipe', 'pipe', 'pipe'] },
  );
}

/** Replaces a file's header (keeping its payload) by `build(stanzas, fileKey)`; the file key comes from a's identity. */
function reMac(file: Buffer, build: (stanzas: StanzaText[], fileKey: Buffer) => Buffer): Buffer {
  const { header: h, payload } = splitHeader(file);
  const n = native(h, [a.identity]);
  assert.ok(n !== 'reference' && 'fileKey' in n);
  const stanzas: StanzaText[] = [];
  const lines = Buffer.from(h).toString('latin1').split('\n');
  for (let i = 1; lines[i]?.startsWith('-> ');) {
    const args = (lines[i] ?? '').slice(3).split(' ');
    let body = '';
    for (;;) {
      i++;
      body += lines[i] ?? '';
      if ((lines[i] ?? '').length < 64) break;
    }
    i++;
    stanzas.push({ args, body: Buffer.from(body, 'base64') });
  }
  return Buffer.concat([build(stanzas, n.fileKey), payload]);
}
