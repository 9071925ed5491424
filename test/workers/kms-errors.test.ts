/**
 * The KMS error table (workers/decrypt/kms-client.ts): which SDK failures are denials, outages or
 * bad artifacts. The shapes are what the SDK throws: a named exception with `$metadata`, or a plain
 * Node/SDK error (network, timeout, missing region) without one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FAILURES } from '../../common/failures.js';
import { startupHint } from '../../src/startup.js';
import { CredentialsFailure, classifyKmsError } from '../../workers/decrypt/kms-client.js';

const aws = (name: string, status: number, message = 'm'): unknown => Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });

describe('classifyKmsError', () => {
  test('access and key-state errors are kms_denied', () => {
    for (const name of [
      'AccessDeniedException',
      'DisabledException',
      'KMSInvalidStateException',
      'NotFoundException',
      'UnrecognizedClientException',
      'InvalidSignatureException',
    ]) {
      assert.equal(classifyKmsError(aws(name, 400)).code, 'kms_denied', name);
    }
    assert.equal(classifyKmsError(Object.assign(new Error('Could not load credentials'), { name: 'CredentialsProviderError' })).code, 'kms_denied');
    assert.equal(classifyKmsError(aws('SomeNewValidationError', 400)).code, 'kms_denied');
  });

  test('throttling, KMS faults, 5xx, timeouts and network errors are kms_unavailable', () => {
    for (const [name, status] of [
      ['ThrottlingException', 400],
      ['LimitExceededException', 400],
      ['KMSInternalException', 500],
      ['KeyUnavailableException', 500],
      ['DependencyTimeoutException', 503],
      ['Whatever', 502],
    ] as const) {
      assert.equal(classifyKmsError(aws(name, status)).code, 'kms_unavailable', name);
    }
    assert.equal(classifyKmsError(Object.assign(new Error('t'), { name: 'TimeoutError' })).code, 'kms_unavailable');
    const refused = classifyKmsError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    assert.equal(refused.code, 'kms_unavailable');
    assert.match(refused.message, /ECONNREFUSED/);
    assert.match(classifyKmsError(new Error('Region is missing')).message, /AWS_REGION/);
  });

  test('a bad wrapped key is decrypt_failed, not a denial', () => {
    assert.equal(classifyKmsError(aws('InvalidCiphertextException', 400)).code, 'decrypt_failed');
    assert.equal(classifyKmsError(aws('IncorrectKeyException', 400)).code, 'decrypt_failed');
  });

  test('messages are bounded and single-line; a non-AWS message is never quoted', () => {
    const long = classifyKmsError(aws('AccessDeniedException', 400, `line1\nline2 ${'x'.repeat(1000)}`)).message;
    assert.ok(!long.includes('\n') && long.length < 400);
    assert.ok(!classifyKmsError(new Error('secret-ish detail')).message.includes('secret-ish'));
  });

  test('a failure of the credential chain (KMS never called) has a credential code, says so, not "KMS denied", and gets its own hint', () => {
    const sts = classifyKmsError(
      new CredentialsFailure(aws('InvalidIdentityTokenException', 400, "Couldn't retrieve verification key from your identity provider")),
    );
    assert.equal(sts.code, 'credentials_denied');
    // Requests still answer with the KMS reasons: for the client, KMS could not be used.
    assert.equal(FAILURES[sts.code].reason, 'kms_denied');
    assert.equal(
      sts.message,
      "AWS credentials could not be obtained (InvalidIdentityTokenException, HTTP 400): Couldn't retrieve verification key from your identity provider",
    );
    const loadFailure = sts;
    assert.match(startupHint(loadFailure), /web identity \(IRSA\) check AWS_ROLE_ARN/);
    assert.match(
      startupHint({ ok: false, code: 'kms_denied', message: 'KMS Decrypt denied (AccessDeniedException, HTTP 400)' }),
      /kms:Decrypt on the envelope keyId/,
    );
    // Recognised by its code only: a KMS code is never re-read as a credential failure from its message.
    assert.match(startupHint({ ok: false, code: 'kms_denied', message: sts.message }), /kms:Decrypt on the envelope keyId/);

    const none = classifyKmsError(
      new CredentialsFailure(Object.assign(new Error('Could not load credentials from any providers\nmore lines'), { name: 'CredentialsProviderError' })),
    );
    assert.equal(none.code, 'credentials_denied');
    assert.equal(none.message, 'AWS credentials could not be obtained (CredentialsProviderError): Could not load credentials from any providers');

    // STS or the metadata endpoint unreachable, an IdP outage, STS 5xx: transient.
    const refused = classifyKmsError(new CredentialsFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1 secret-ish'), { code: 'ECONNREFUSED' })));
    assert.equal(refused.code, 'credentials_unreachable');
    assert.equal(FAILURES[refused.code].reason, 'kms_unavailable');
    assert.equal(refused.message, 'AWS credentials could not be obtained (Error ECONNREFUSED)');
    assert.match(startupHint(refused), /network access to STS/);
    assert.equal(classifyKmsError(new CredentialsFailure(aws('IDPCommunicationErrorException', 400))).code, 'credentials_unreachable');
    assert.equal(classifyKmsError(new CredentialsFailure(aws('InternalFailure', 503))).code, 'credentials_unreachable');
    assert.equal(classifyKmsError(new CredentialsFailure(Object.assign(new Error('t'), { name: 'TimeoutError' }))).code, 'credentials_unreachable');
    // A token file that is not there is the operator's to fix, not an outage: denied, naming the path.
    const missing = classifyKmsError(
      new CredentialsFailure(
        Object.assign(new Error("ENOENT: no such file or directory, open '/var/run/secrets/token'"), { code: 'ENOENT', path: '/var/run/secrets/token' }),
      ),
    );
    assert.equal(missing.code, 'credentials_denied');
    assert.equal(missing.message, 'AWS credentials could not be obtained (Error ENOENT reading /var/run/secrets/token)');
    // A role that may not be assumed (STS's AccessDenied) is a denial.
    assert.equal(classifyKmsError(new CredentialsFailure(aws('AccessDenied', 403))).code, 'credentials_denied');
  });
});
