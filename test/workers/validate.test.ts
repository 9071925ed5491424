import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, test } from 'node:test';
import fc from 'fast-check';
import type { FailureCode } from '../../common/failures.js';
import { ARTIFACT_FIELDS, signingPayload } from '../../common/artifact.js';
import type { ValidationPolicy } from '../../common/protocol.js';
import { validateArtifact, type ValidationResult } from '../../workers/validate.js';
import { ageKeygen, ageLibEncrypt, bytesOf, makeArtifact, NOW_MS, PACKED_AT, RUNS, signingKey, type SigningKey } from './helpers.js';

const policy: ValidationPolicy = { nowMs: NOW_MS };
let ageFile: Uint8Array;
let ed: SigningKey;
let p256: SigningKey;

before(async () => {
  ageFile = await ageLibEncrypt('{"app":{"K":"v"}}', ageKeygen().recipient);
  ed = signingKey('ed25519');
  p256 = signingKey('p256');
});

function run(artifact: unknown, p: Partial<ValidationPolicy> = {}): ValidationResult {
  return validateArtifact(bytesOf(artifact), { ...policy, ...p });
}

function assertFails(r: ValidationResult, code: FailureCode, mentions?: RegExp): void {
  assert.equal(r.ok, false, `expected ${code}, got ${JSON.stringify(r)}`);
  if (r.ok) return;
  assert.equal(r.code, code, r.message);
  if (mentions !== undefined) assert.match(r.message, mentions);
}

function assertValid(r: ValidationResult): void {
  assert.equal(r.ok, true, JSON.stringify(r));
  assert.equal(r.ok && r.kind, 'valid');
}

describe('validateArtifact: §4.3 step 1, JSON and revocation', () => {
  test('bytes that are not JSON are invalid_json', () => {
    assertFails(validateArtifact(Buffer.from('not json'), policy), 'invalid_json');
    assertFails(validateArtifact(Uint8Array.from([0x7b, 0xff, 0x7d]), policy), 'invalid_json');
  });

  test('revokedAt on an otherwise malformed artifact is still a revocation', () => {
    const r = validateArtifact(Buffer.from('{"revokedAt":"x"}'), policy);
    assert.deepEqual(r, { ok: true, kind: 'revoked', revokedAt: 'x' });
  });

  test('revokedAt wins over a bad signature and a wrong identity, and any value counts', () => {
    const a = makeArtifact(ageFile, { revokedAt: '2025-06-01T13:00:00Z', signature: 'AAAA' });
    const r = run(a, { verifyKey: ed.verifyKey, expectIdentity: 'other' });
    assert.deepEqual(r, { ok: true, kind: 'revoked', revokedAt: '2025-06-01T13:00:00Z' });
    const n = run({ revokedAt: null, version: 7 });
    assert.equal(n.ok && n.kind, 'revoked');
  });
});

describe('validateArtifact: §4.3 step 2, shape', () => {
  test('a well-formed artifact passes and unknown fields are ignored', () => {
    const r = run(makeArtifact(ageFile, { extra: { nested: true } } as Record<string, unknown>));
    assertValid(r);
    if (r.ok && r.kind === 'valid') {
      assert.equal(r.meta.identity, 'api');
      assert.equal(r.meta.encryption, 'age');
      assert.equal(r.meta.signed, false);
      assert.equal(r.meta.packedAtMs, Date.parse('2025-06-01T12:00:00Z'));
      assert.equal('extra' in r.artifact, false);
    }
  });

  test('version 2 is unsupported_version naming the value', () => {
    assertFails(run(makeArtifact(ageFile, { version: 2 })), 'unsupported_version', /version 2/);
    assertFails(run(makeArtifact(ageFile, { version: '1' })), 'unsupported_version', /"1"/);
  });

  test('missing version and non-objects are invalid_shape', () => {
    const a = makeArtifact(ageFile);
    delete a['version'];
    assertFails(run(a), 'invalid_shape', /version/);
    assertFails(run([1, 2]), 'invalid_shape', /object/);
    assertFails(run('str'), 'invalid_shape');
  });

  test('each required string names the field', () => {
    for (const f of ['identity', 'environment', 'packedAt', 'revision', 'ciphertextHash', 'ciphertext']) {
      const a = makeArtifact(ageFile);
      delete a[f];
      assertFails(run(a), 'invalid_shape', new RegExp(f));
      assertFails(run(makeArtifact(ageFile, { [f]: '' })), 'invalid_shape', new RegExp(f));
      assertFails(run(makeArtifact(ageFile, { [f]: 5 })), 'invalid_shape', new RegExp(f));
    }
  });

  test('ciphertextHash must be lowercase hex, ciphertext standard base64', () => {
    const a = makeArtifact(ageFile);
    assertFails(run({ ...a, ciphertextHash: String(a['ciphertextHash']).toUpperCase() }), 'invalid_shape', /ciphertextHash/);
    assertFails(run(makeArtifact(ageFile, { ciphertext: 'abc_-def' })), 'invalid_shape', /ciphertext must be standard base64/);
    assertFails(run(makeArtifact(ageFile, { ciphertext: 'abc' })), 'invalid_shape', /base64/);
  });

  test('dates must be ISO-8601 date-times with a zone and exist on the calendar', () => {
    for (const bad of ['yesterday', '2025-06-01', '2025-06-01T12:00:00', '2025-02-30T00:00:00Z', '2025-13-01T00:00:00Z']) {
      assertFails(run(makeArtifact(ageFile, { packedAt: bad })), 'invalid_shape', /packedAt/);
      assertFails(run(makeArtifact(ageFile, { expiresAt: bad })), 'invalid_shape', /expiresAt/);
    }
    assertValid(run(makeArtifact(ageFile, { packedAt: '2025-06-01T14:00:00+02:00', expiresAt: '2030-01-01T00:00Z' })));
    assertFails(run(makeArtifact(ageFile, { expiresAt: 1 })), 'invalid_shape', /expiresAt/);
    assertFails(run(makeArtifact(ageFile, { signature: null })), 'invalid_shape', /signature/);
  });

  test('a newline cannot move text between signed lines: re-split fields are invalid_shape before the signature is checked', () => {
    const signed = makeArtifact(ageFile, { identity: 'svc\nprod', environment: 'staging', revision: 'r1' }, ed);
    const resplit = { ...signed, identity: 'svc', environment: 'prod', revision: 'staging\nr1' };
    // The two sign the same bytes, so the signature alone cannot tell them apart.
    assert.deepEqual(signingPayload(resplit as never), signingPayload(signed as never));
    assertFails(run(resplit, { verifyKey: ed.verifyKey }), 'invalid_shape', /^invalid artifact: revision contains a control character/);
    assertFails(run(signed, { verifyKey: ed.verifyKey }), 'invalid_shape', /^invalid artifact: identity contains a control character/);
  });

  test('C0, DEL and C1 control characters are refused in every signed string field, naming it', () => {
    const env = { provider: 'aws', keyId: 'k', wrappedKey: 'd2s=', algorithm: 'SYMMETRIC_DEFAULT', iv: 'aXY=', authTag: 'dGFn' };
    for (const c of ['\n', '\r', '\u0000', '\t', '\u007f', '\u0085', '\u009f']) {
      for (const f of ['identity', 'environment', 'revision']) {
        assertFails(run(makeArtifact(ageFile, { [f]: `a${c}b` })), 'invalid_shape', new RegExp(`^invalid artifact: ${f} contains a control character`));
      }
      assertFails(run(makeArtifact(ageFile, { packedAt: `${PACKED_AT}${c}` })), 'invalid_shape', /packedAt contains a control character/);
      assertFails(run(makeArtifact(ageFile, { expiresAt: `2030-01-01T00:00:00Z${c}` })), 'invalid_shape', /expiresAt contains a control character/);
      const a = makeArtifact(ageFile);
      assertFails(run({ ...a, ciphertextHash: `${String(a['ciphertextHash'])}${c}` }), 'invalid_shape', /ciphertextHash contains a control character/);
      for (const f of Object.keys(env)) {
        assertFails(
          run(makeArtifact(ageFile, { envelope: { ...env, [f]: `x${c}y` } })),
          'invalid_shape',
          new RegExp(`envelope\\.${f} contains a control character`),
        );
      }
    }
    // Other non-ASCII text is a name like any other.
    assertValid(run(makeArtifact(ageFile, { identity: 'zahlungsdienst-ü', environment: 'prod \u00a0 eu', revision: 'r€1' })));
  });

  test('an envelope needs all six fields as non-empty strings', () => {
    const env = { provider: 'aws', keyId: 'k', wrappedKey: 'd2s=', algorithm: 'SYMMETRIC_DEFAULT', iv: 'aXY=', authTag: 'dGFn' };
    const ok = run(makeArtifact(ageFile, { envelope: env }));
    assertValid(ok);
    assert.equal(ok.ok && ok.kind === 'valid' && ok.meta.encryption, 'kms');
    assertFails(run(makeArtifact(ageFile, { envelope: { ...env, iv: '' } })), 'invalid_shape', /envelope\.iv/);
    assertFails(run(makeArtifact(ageFile, { envelope: null })), 'invalid_shape', /envelope/);
    assertFails(run(makeArtifact(ageFile, { envelope: [] })), 'invalid_shape', /envelope/);
  });
});

describe('validateArtifact: §4.3 steps 3-7', () => {
  test('step 3: identity or environment mismatch names expected and actual', () => {
    assertFails(run(makeArtifact(ageFile), { expectIdentity: 'billing' }), 'identity_mismatch', /"api".*"billing"/);
    assertFails(run(makeArtifact(ageFile), { expectEnvironment: 'staging' }), 'identity_mismatch', /"production".*"staging"/);
    assertValid(run(makeArtifact(ageFile), { expectIdentity: 'api', expectEnvironment: 'production' }));
  });

  test('step 4: expiry at or before now is expired; later is served with its expiry', () => {
    assertFails(run(makeArtifact(ageFile, { expiresAt: new Date(NOW_MS).toISOString() })), 'expired');
    assertFails(run(makeArtifact(ageFile, { expiresAt: '2025-06-01T00:00:00Z' })), 'expired');
    const r = run(makeArtifact(ageFile, { expiresAt: new Date(NOW_MS + 1000).toISOString() }));
    assertValid(r);
    assert.equal(r.ok && r.kind === 'valid' && r.meta.expiresAtMs, NOW_MS + 1000);
  });

  test('step 5: tampered ciphertext fails integrity', () => {
    const a = makeArtifact(ageFile);
    const ct = String(a['ciphertext']);
    const tampered = (ct[0] === 'A' ? 'B' : 'A') + ct.slice(1);
    assertFails(run({ ...a, ciphertext: tampered }), 'integrity');
  });

  test('step 6: Ed25519 and ECDSA P-256 signatures verify', () => {
    for (const key of [ed, p256]) {
      const r = run(makeArtifact(ageFile, {}, key), { verifyKey: key.verifyKey });
      assertValid(r);
      assert.equal(r.ok && r.kind === 'valid' && r.meta.signed, true);
    }
  });

  test('step 6: unsigned artifact with a verify key is signature_missing', () => {
    assertFails(run(makeArtifact(ageFile), { verifyKey: ed.verifyKey }), 'signature_missing');
  });

  test('step 6: a signed field changed after signing is signature_invalid', () => {
    for (const key of [ed, p256]) {
      const a = makeArtifact(ageFile, {}, key);
      assertFails(run({ ...a, revision: 'rev-2' }, { verifyKey: key.verifyKey }), 'signature_invalid');
      assertFails(run({ ...a, expiresAt: '2099-01-01T00:00:00Z' }, { verifyKey: key.verifyKey }), 'signature_invalid');
    }
  });

  test('step 6: the key type picks the algorithm, never the signatureAlgorithm claim', () => {
    const a = makeArtifact(ageFile, {}, p256);
    // A P-256 key with an artifact that claims Ed25519 is still checked (and passes) as ECDSA.
    assertValid(run({ ...a, signatureAlgorithm: 'Ed25519' }, { verifyKey: p256.verifyKey }));
    // An Ed25519 signature claiming ECDSA does not pass a P-256 key, and vice versa.
    const e = makeArtifact(ageFile, {}, ed);
    assertFails(run({ ...e, signatureAlgorithm: 'ECDSA_SHA256' }, { verifyKey: p256.verifyKey }), 'signature_invalid', /ECDSA/);
    assertFails(run({ ...a, signatureAlgorithm: 'Ed25519' }, { verifyKey: ed.verifyKey }), 'signature_invalid', /Ed25519/);
  });

  test('step 6: undecodable or garbage signatures are signature_invalid', () => {
    const a = makeArtifact(ageFile, {}, p256);
    assertFails(run({ ...a, signature: 'not base64!' }, { verifyKey: p256.verifyKey }), 'signature_invalid');
    assertFails(run({ ...a, signature: 'AAAA' }, { verifyKey: p256.verifyKey }), 'signature_invalid');
    assertFails(run({ ...a, signature: 'AAAA' }, { verifyKey: ed.verifyKey }), 'signature_invalid');
  });

  test('step 6: a verify key of another type is refused as a key error', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }).toString('base64');
    assertFails(run(makeArtifact(ageFile, {}, ed), { verifyKey: rsa }), 'key_invalid', /CLEF_AGENT_VERIFY_KEY.*rsa/);
    assertFails(run(makeArtifact(ageFile, {}, ed), { verifyKey: 'garbage' }), 'key_invalid', /CLEF_AGENT_VERIFY_KEY/);
  });

  test('step 7: an artifact older than the served one is a rollback; the same instant is not', () => {
    assertFails(run(makeArtifact(ageFile), { servingPackedAt: '2025-06-01T12:00:01Z' }), 'rollback', /older/);
    assertValid(run(makeArtifact(ageFile), { servingPackedAt: '2025-06-01T12:00:00Z' }));
    assertValid(run(makeArtifact(ageFile), { servingPackedAt: '2025-05-01T00:00:00Z' }));
  });

  test('step 7: a packedAt more than 5 minutes ahead of the clock is clock_skew, naming both times', () => {
    const ahead = (ms: number): string => new Date(NOW_MS + ms).toISOString();
    assertValid(run(makeArtifact(ageFile, { packedAt: ahead(5 * 60_000) })));
    assertFails(
      run(makeArtifact(ageFile, { packedAt: ahead(5 * 60_000 + 1) })),
      'clock_skew',
      /more than 5 minutes ahead of this host's clock \(2025-06-02T00:00:00\.000Z\)/,
    );
    assertFails(run(makeArtifact(ageFile, { packedAt: '2036-01-01T00:00:00Z' })), 'clock_skew', /2036-01-01T00:00:00Z/);
    // A signed future artifact is refused too: the signature proves who packed it, not when.
    assertFails(run(makeArtifact(ageFile, { packedAt: '2036-01-01T00:00:00Z' }, ed), { verifyKey: ed.verifyKey }), 'clock_skew');
  });

  test('steps run in order: identity before expiry before integrity before signature before rollback', () => {
    const a = makeArtifact(ageFile, { expiresAt: '2025-01-01T00:00:00Z', ciphertextHash: '0'.repeat(64) });
    assertFails(run(a, { expectIdentity: 'x', verifyKey: ed.verifyKey }), 'identity_mismatch');
    assertFails(run(a, { verifyKey: ed.verifyKey }), 'expired');
    assertFails(run({ ...a, expiresAt: undefined }, { verifyKey: ed.verifyKey }), 'integrity');
    assertFails(run(makeArtifact(ageFile), { verifyKey: ed.verifyKey, servingPackedAt: '2030-01-01T00:00:00Z' }), 'signature_missing');
  });
});

const CODES = new Set<string>([
  'invalid_json',
  'invalid_shape',
  'unsupported_version',
  'identity_mismatch',
  'expired',
  'integrity',
  'signature_missing',
  'signature_invalid',
  'rollback',
  'clock_skew',
  'key_invalid',
]);

function assertTagged(r: ValidationResult): void {
  if (r.ok) assert.ok(r.kind === 'valid' || r.kind === 'revoked');
  else {
    assert.ok(CODES.has(r.code), r.code);
    assert.equal(typeof r.message, 'string');
  }
}

describe('validateArtifact: properties', () => {
  test('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (b) => assertTagged(validateArtifact(b, policy))),
      { numRuns: RUNS },
    );
  });

  test('never throws on arbitrary JSON, including artifact-like objects', () => {
    const fieldValue = fc.oneof(
      fc.jsonValue(),
      fc.string(),
      fc.constant(1),
      fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    );
    const artifactLike = fc.dictionary(fc.constantFrom(...ARTIFACT_FIELDS, '__proto__', 'constructor'), fieldValue);
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), artifactLike), (v) =>
        assertTagged(validateArtifact(bytesOf(v), { ...policy, verifyKey: ed.verifyKey, servingPackedAt: '2025-01-01T00:00:00Z' })),
      ),
      { numRuns: RUNS },
    );
  });

  test('any single-field change to a signed field of a signed artifact is rejected', () => {
    const envelope = { provider: 'aws', keyId: 'arn:k', wrappedKey: 'd2s=', algorithm: 'SYMMETRIC_DEFAULT', iv: 'aXY=', authTag: 'dGFn' };
    const top = ['version', 'identity', 'environment', 'revision', 'packedAt', 'ciphertextHash', 'expiresAt'] as const;
    const env = ['provider', 'keyId', 'wrappedKey', 'algorithm', 'iv', 'authTag'] as const;
    const newValue = fc.oneof(
      fc.string({ minLength: 1 }),
      fc.date({ noInvalidDate: true, min: new Date(0), max: new Date(4e12) }).map((d) => d.toISOString()),
      fc.integer(),
    );
    for (const key of [ed, p256]) {
      const base = makeArtifact(ageFile, { envelope, expiresAt: '2030-01-01T00:00:00.000Z' }, key);
      assertValid(run(base, { verifyKey: key.verifyKey }));
      fc.assert(
        fc.property(fc.constantFrom(...top, ...env.map((f) => `envelope.${f}`)), newValue, (field, value) => {
          const mutated: Record<string, unknown> = { ...base, envelope: { ...envelope } };
          const [head, sub] = field.split('.') as [string, string | undefined];
          const target = sub === undefined ? mutated : (mutated['envelope'] as Record<string, unknown>);
          const name = sub ?? head;
          fc.pre(target[name] !== value);
          target[name] = value;
          const r = run(mutated, { verifyKey: key.verifyKey });
          assert.equal(r.ok, false, `${field} := ${JSON.stringify(value)} was accepted`);
        }),
        { numRuns: RUNS },
      );
    }
  });
});
