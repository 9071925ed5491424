/**
 * Mutations of a good packed artifact (SPEC §2) for the artifact fuzz suites: JSON shape and
 * types, sizes, encodings and non-UTF-8 bytes, base64 and signature variants, age headers, stanzas
 * and armor, KMS envelopes with bad fields, dates, revocation. Some mutants are re-hashed and
 * re-signed with the test's key, so they get past the signature to decryption and the payload.
 */
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { ARTIFACT_FIELDS, signingPayload, type PackedArtifact } from '../../common/artifact.js';
import { signatureFields, type SigningKey } from '../helpers/artifacts.js';

type Obj = Record<string, unknown>;
type ObjOp = (a: Obj) => void;

export interface Mutant {
  readonly bytes: Buffer;
  /** Re-signed by the test's key after mutating (else the signed fields must match the base's to load). */
  readonly resigned: boolean;
  /** What was done, for the failure report. */
  readonly ops: readonly string[];
}

// revokedAt is left out on purpose: its mutants are generated on their own (revocation always wins).
const FIELDS = ARTIFACT_FIELDS.filter((f) => f !== 'revokedAt');
const ENVELOPE_FIELDS = ['provider', 'keyId', 'wrappedKey', 'algorithm', 'iv', 'authTag'];
const STRING_FIELDS = ['identity', 'environment', 'packedAt', 'revision', 'ciphertextHash', 'ciphertext', 'expiresAt', 'signature', 'signatureAlgorithm'];
const ODD_CHARS = ['\n', '\r', '\t', '\0', '\x1b', '\x7f', '\u2028', '\u0085', ' ', '=', '-', 'é', '\u{1F511}', '\uFEFF', '\\', '"', '\ud800'];

const sha256 = (s: string): string => createHash('sha256').update(s, 'utf8').digest('hex');

const jsonOddValue = fc.oneof(
  fc.constantFrom<unknown>(null, true, false, 0, -1, 1, 2, 1.5, 1e308, '', ' ', [], {}, ['a'], { a: 'b' }, 'x'.repeat(100_000)),
  fc.jsonValue({ maxDepth: 3 }),
);

const dateArb = fc.constantFrom(
  '2025-06-01T12:00:00Z',
  '2025-06-01T12:00:00',
  '2025-06-01',
  '2025-13-45T25:61:61Z',
  '2025-06-01T12:00:00+25:00',
  '+275760-09-13T00:00:00Z',
  '-000001-01-01T00:00:00Z',
  '2016-12-31T23:59:60Z',
  '1970-01-01T00:00:00Z',
  '9999-12-31T23:59:59.999Z',
  'now',
  '',
  '2025-06-01T12:00:00.000000000001Z',
  '２０２５-06-01T12:00:00Z',
);

function objOps(kmsBase: boolean): fc.Arbitrary<[string, ObjOp]> {
  const field = fc.constantFrom(...FIELDS);
  const strField = fc.constantFrom(...STRING_FIELDS);
  const envField = fc.constantFrom(...ENVELOPE_FIELDS);
  return fc.oneof(
    field.map((f): [string, ObjOp] => [`drop ${f}`, (a) => delete a[f]]),
    fc.tuple(field, jsonOddValue).map(([f, v]): [string, ObjOp] => [`set ${f}=${JSON.stringify(v)?.slice(0, 40)}`, (a) => (a[f] = v)]),
    fc.tuple(strField, fc.constantFrom(...ODD_CHARS), fc.nat(), fc.constantFrom('insert', 'append', 'replace')).map(([f, c, at, how]): [string, ObjOp] => [
      `${how} ${JSON.stringify(c)} in ${f}`,
      (a) => {
        const s = typeof a[f] === 'string' ? a[f] : '';
        const i = s.length === 0 ? 0 : at % s.length;
        a[f] = how === 'append' ? s + c : how === 'insert' ? s.slice(0, i) + c + s.slice(i) : s.slice(0, i) + c + s.slice(i + 1);
      },
    ]),
    fc.tuple(strField, fc.nat()).map(([f, n]): [string, ObjOp] => [
      `truncate ${f}`,
      (a) => {
        if (typeof a[f] === 'string') a[f] = a[f].slice(0, n % Math.max(1, a[f].length));
      },
    ]),
    fc.constantFrom<[string, ObjOp]>(
      ['version "1"', (a) => (a['version'] = '1')],
      ['version 2', (a) => (a['version'] = 2)],
      ['version 0', (a) => (a['version'] = 0)],
      ['hash uppercase', (a) => (a['ciphertextHash'] = String(a['ciphertextHash']).toUpperCase())],
      [
        'hash of decoded bytes',
        (a) =>
          (a['ciphertextHash'] = createHash('sha256')
            .update(Buffer.from(String(a['ciphertext']), 'base64'))
            .digest('hex')),
      ],
      ['ciphertext base64url', (a) => (a['ciphertext'] = String(a['ciphertext']).replace(/\+/g, '-').replace(/\//g, '_'))],
      ['ciphertext unpadded', (a) => (a['ciphertext'] = String(a['ciphertext']).replace(/=+$/, ''))],
      ['ciphertext wrapped at 76', (a) => (a['ciphertext'] = String(a['ciphertext']).replace(/(.{76})/g, '$1\n'))],
      ['ciphertext with spaces', (a) => (a['ciphertext'] = ` ${String(a['ciphertext'])} `)],
      ['ciphertext extra padding', (a) => (a['ciphertext'] = `${String(a['ciphertext'])}==`)],
      ['ciphertext empty', (a) => (a['ciphertext'] = '')],
      ['signature empty', (a) => (a['signature'] = '')],
      ['signature base64url', (a) => (a['signature'] = String(a['signature']).replace(/\+/g, '-').replace(/\//g, '_'))],
      ['signature truncated', (a) => (a['signature'] = String(a['signature']).slice(0, 20))],
      ['signature random', (a) => (a['signature'] = Buffer.alloc(64, 7).toString('base64'))],
      ['signature not base64', (a) => (a['signature'] = '!!!!')],
      ['signatureAlgorithm none', (a) => (a['signatureAlgorithm'] = 'none')],
      ['signatureAlgorithm ECDSA', (a) => (a['signatureAlgorithm'] = 'ECDSA_SHA256')],
      ['revokedAt', (a) => (a['revokedAt'] = '2025-06-01T00:00:00Z')],
      ['revokedAt null', (a) => (a['revokedAt'] = null)],
      ['expiresAt past', (a) => (a['expiresAt'] = '2000-01-01T00:00:00Z')],
      ['expiresAt future', (a) => (a['expiresAt'] = '2999-01-01T00:00:00Z')],
      ['extra field', (a) => (a['extra'] = { nested: [1, 2, 3] })],
      ['own __proto__', (a) => Object.defineProperty(a, '__proto__', { value: { identity: 'evil' }, enumerable: true, configurable: true, writable: true })],
      [
        'envelope on age',
        (a) =>
          (a['envelope'] = {
            provider: 'aws',
            keyId: 'k',
            wrappedKey: 'AAAA',
            algorithm: 'SYMMETRIC_DEFAULT',
            iv: 'AAAAAAAAAAAAAAAA',
            authTag: 'AAAAAAAAAAAAAAAAAAAAAA==',
          }),
      ],
      ['envelope not object', (a) => (a['envelope'] = 'aws')],
      ['envelope array', (a) => (a['envelope'] = [])],
    ),
    fc.tuple(fc.constantFrom('packedAt', 'expiresAt'), dateArb).map(([f, d]): [string, ObjOp] => [`${f}=${d}`, (a) => (a[f] = d)]),
    ...(kmsBase
      ? [
          envField.map((f): [string, ObjOp] => [`drop envelope.${f}`, (a) => env(a, (e) => delete e[f])]),
          fc
            .tuple(envField, jsonOddValue)
            .map(([f, v]): [string, ObjOp] => [`set envelope.${f}=${JSON.stringify(v)?.slice(0, 40)}`, (a) => env(a, (e) => (e[f] = v))]),
          fc.constantFrom<[string, ObjOp]>(
            ['provider gcp', (a) => env(a, (e) => (e['provider'] = 'gcp'))],
            ['provider AWS', (a) => env(a, (e) => (e['provider'] = 'AWS'))],
            ['iv 16 bytes', (a) => env(a, (e) => (e['iv'] = Buffer.alloc(16, 1).toString('base64')))],
            ['iv not base64', (a) => env(a, (e) => (e['iv'] = '***'))],
            ['authTag 8 bytes', (a) => env(a, (e) => (e['authTag'] = Buffer.alloc(8, 1).toString('base64')))],
            ['authTag flipped', (a) => env(a, (e) => (e['authTag'] = flip(String(e['authTag']))))],
            ['wrappedKey random', (a) => env(a, (e) => (e['wrappedKey'] = Buffer.alloc(48, 9).toString('base64')))],
            ['wrappedKey flipped', (a) => env(a, (e) => (e['wrappedKey'] = flip(String(e['wrappedKey']))))],
            ['keyId other', (a) => env(a, (e) => (e['keyId'] = 'arn:aws:kms:us-east-1:000000000000:key/nope'))],
            ['algorithm RSAES', (a) => env(a, (e) => (e['algorithm'] = 'RSAES_OAEP_SHA_256'))],
          ),
        ]
      : []),
  );
}

/** Applies `op` to the envelope while an earlier change has left one. */
function env(a: Obj, op: (e: Obj) => unknown): void {
  const e = a['envelope'];
  if (typeof e === 'object' && e !== null && !Array.isArray(e)) op(e as Obj);
}

function flip(b64: string, at = 0): string {
  const b = Buffer.from(b64, 'base64');
  if (b.length > 0) b[at % b.length] = (b[at % b.length] ?? 0) ^ 1;
  return b.toString('base64');
}

/** Changes to the age file inside `ciphertext` (binary or armored), always re-hashed. */
const ageOps: fc.Arbitrary<[string, (age: Buffer) => Buffer]> = fc.oneof(
  fc.nat().map((n): [string, (age: Buffer) => Buffer] => [`flip age byte ${n}`, (age) => flipAt(age, n)]),
  fc.nat().map((n): [string, (age: Buffer) => Buffer] => [`truncate age at ${n}`, (age) => age.subarray(0, n % Math.max(1, age.length))]),
  fc.constantFrom<[string, (age: Buffer) => Buffer]>(
    ['age v2 header', (age) => replaceText(age, 'age-encryption.org/v1', 'age-encryption.org/v2')],
    ['age header uppercase', (age) => replaceText(age, 'age-encryption.org/v1', 'AGE-ENCRYPTION.ORG/V1')],
    ['age scrypt stanza', (age) => replaceText(age, '-> X25519 ', '-> scrypt ')],
    ['age unknown stanza', (age) => replaceText(age, '-> X25519 ', '-> ssh-ed25519 AAAA ')],
    ['age stanza doubled', (age) => replaceText(age, '\n---', '\n-> X25519 AAAA\nAAAA\n---')],
    ['age no mac line', (age) => replaceText(age, '\n--- ', '\n')],
    ['age mac flipped', (age) => replaceText(age, '\n--- ', '\n--- A')],
    ['age CRLF header', (age) => replaceText(age, '\n', '\r\n')],
    ['age appended bytes', (age) => Buffer.concat([age, Buffer.alloc(17, 0xaa)])],
    ['age empty', () => Buffer.alloc(0)],
    ['armor lowercase', (age) => replaceText(age, 'BEGIN AGE', 'begin age')],
    ['armor no end', (age) => replaceText(age, '-----END AGE ENCRYPTED FILE-----', '')],
    ['armor CRLF', (age) => replaceText(age, '\n', '\r\n')],
    ['armor garbage after end', (age) => Buffer.concat([age, Buffer.from('garbage\n')])],
    ['armor leading whitespace', (age) => Buffer.concat([Buffer.from('  \n'), age])],
    ['armor rewrapped', (age) => Buffer.from(age.toString('latin1').replace(/\n(?!-)/g, ''), 'latin1')],
  ),
);

function flipAt(b: Buffer, n: number): Buffer {
  const c = Buffer.from(b);
  if (c.length > 0) c[n % c.length] = (c[n % c.length] ?? 0) ^ (1 << (n % 8));
  return c;
}

/** Replaces the first occurrence (binary-safe: the age header is ASCII, the body is not touched before it). */
function replaceText(b: Buffer, from: string, to: string): Buffer {
  const i = b.indexOf(from, 0, 'latin1');
  if (i < 0) return b;
  return Buffer.concat([b.subarray(0, i), Buffer.from(to, 'latin1'), b.subarray(i + from.length)]);
}

/** Changes to the serialized bytes. */
const textOps: fc.Arbitrary<[string, (t: Buffer) => Buffer]> = fc.oneof(
  fc
    .tuple(fc.nat(), fc.constantFrom([0xff], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0x00]))
    .map(([n, bad]): [string, (t: Buffer) => Buffer] => [
      `bytes ${bad.join(',')} at ${n}`,
      (t) => Buffer.concat([t.subarray(0, n % t.length), Buffer.from(bad), t.subarray(n % t.length)]),
    ]),
  fc.nat().map((n): [string, (t: Buffer) => Buffer] => [`cut at ${n}`, (t) => t.subarray(0, n % t.length)]),
  fc.constantFrom<[string, (t: Buffer) => Buffer]>(
    ['BOM', (t) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), t])],
    ['double BOM', (t) => Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf, 0xef, 0xbb, 0xbf]), t])],
    ['UTF-16LE', (t) => Buffer.from(t.toString('utf8'), 'utf16le')],
    ['trailing garbage', (t) => Buffer.concat([t, Buffer.from('}x')])],
    ['trailing whitespace', (t) => Buffer.concat([t, Buffer.from(' \n\t\r\n')])],
    ['duplicate identity key', (t) => Buffer.from(t.toString('utf8').replace(/}$/, ',"identity":"other"}'))],
    ['duplicate revokedAt-free version', (t) => Buffer.from(t.toString('utf8').replace(/^{/, '{"version":2,'))],
    ['version 1.0', (t) => Buffer.from(t.toString('utf8').replace('"version":1', '"version":1.0'))],
    ['version 1e0', (t) => Buffer.from(t.toString('utf8').replace('"version":1', '"version":1e0'))],
    ['version 1.0000000000000001', (t) => Buffer.from(t.toString('utf8').replace('"version":1', '"version":1.0000000000000001'))],
    ['escaped keys', (t) => Buffer.from(t.toString('utf8').replace('"identity"', '"\\u0069dentity"'))],
    ['deep nesting', () => Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`)],
    ['deep object', (t) => Buffer.from(t.toString('utf8').replace(/}$/, `,"x":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`))],
    ['empty', () => Buffer.alloc(0)],
    ['null', () => Buffer.from('null')],
    ['array', (t) => Buffer.from(`[${t.toString('utf8')}]`)],
    ['string', (t) => Buffer.from(JSON.stringify(t.toString('utf8')))],
    ['huge number', () => Buffer.from('1'.repeat(100_000))],
  ),
);

/**
 * A mutant of `base`: 1–3 object-level changes, maybe an age-file change (re-hashed), maybe
 * re-hashed and re-signed with `key`, maybe a change to the serialized bytes.
 */
export function mutantArb(base: Obj, key: SigningKey, o: { kms: boolean; textOps?: boolean }): fc.Arbitrary<Mutant> {
  return fc
    .record({
      ops: fc.array(objOps(o.kms), { minLength: 0, maxLength: 3 }),
      age: o.kms ? fc.constant(undefined) : fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 2, arbitrary: ageOps }),
      rehash: fc.boolean(),
      resign: fc.boolean(),
      text: o.textOps === false ? fc.constant(undefined) : fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: textOps }),
    })
    .filter((r) => r.ops.length > 0 || r.age !== undefined || r.text !== undefined)
    .map((r) => {
      const a = structuredClone(base);
      const names: string[] = [];
      if (r.age) {
        const [name, op] = r.age;
        a['ciphertext'] = op(Buffer.from(String(a['ciphertext']), 'base64')).toString('base64');
        a['ciphertextHash'] = sha256(String(a['ciphertext']));
        names.push(name);
      }
      for (const [name, op] of r.ops) {
        op(a);
        names.push(name);
      }
      let resigned = false;
      if (r.rehash && typeof a['ciphertext'] === 'string') {
        a['ciphertextHash'] = sha256(a['ciphertext']);
        names.push('rehash');
      }
      if (r.resign) {
        Object.assign(a, signatureFields(key, signingPayload(a as unknown as PackedArtifact)));
        resigned = true;
        names.push('resign');
      }
      let bytes: Buffer = Buffer.from(JSON.stringify(a), 'utf8');
      if (r.text) {
        bytes = r.text[1](bytes);
        names.push(r.text[0]);
      }
      return { bytes, resigned, ops: names };
    });
}
