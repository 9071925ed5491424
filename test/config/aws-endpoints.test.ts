/**
 * The AWS endpoint variables (SPEC §3): AWS_ENDPOINT_URL, _KMS, _STS and _S3 carry the session
 * token, and KMS answers carry plaintext data keys, so plain http to a non-loopback host is refused
 * at start-up for every source kind unless CLEF_AGENT_ALLOW_HTTP=true. A verify key does not lift it.
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { cleanup, env, load, refuseWith } from './helpers.js';

after(cleanup);

const EXPECTED = 'expected an https:// URL, an http:// URL to a loopback host (127.0.0.0/8, ::1, localhost), or CLEF_AGENT_ALLOW_HTTP=true';
const EXPOSED = {
  AWS_ENDPOINT_URL: 'the AWS session token and the data keys KMS returns',
  AWS_ENDPOINT_URL_KMS: 'the AWS session token and the data keys KMS returns',
  AWS_ENDPOINT_URL_STS: 'the web identity token and the credentials STS returns',
  AWS_ENDPOINT_URL_S3: 'the AWS session token',
} as const;
const NAMES = Object.keys(EXPOSED) as (keyof typeof EXPOSED)[];
const plain = (name: keyof typeof EXPOSED, shown: string): string =>
  `${name}: "${shown}" uses plain http to a non-loopback host, which would carry ${EXPOSED[name]} unencrypted; ${EXPECTED}`;

describe('AWS endpoint variables: the plain-http rule', () => {
  for (const name of NAMES) {
    test(`${name}: plain http to a non-loopback host is refused, whatever the source`, () => {
      refuseWith(env({ [name]: 'http://aws.internal:4566' }), [plain(name, 'http://aws.internal:4566/')]);
      refuseWith(env({ [name]: 'http://10.0.0.7/' }), [plain(name, 'http://10.0.0.7/')]);
    });
    test(`${name}: CLEF_AGENT_ALLOW_HTTP=true lifts the rule`, () =>
      assert.equal(load(env({ [name]: 'http://aws.internal:4566', CLEF_AGENT_ALLOW_HTTP: 'true' })).allowHttp, true));
    test(`${name}: a verify key does not lift it (it protects the artifact, not the token)`, () => {
      const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
      refuseWith(env({ [name]: 'http://aws.internal:4566', CLEF_AGENT_VERIFY_KEY: der }), [plain(name, 'http://aws.internal:4566/')]);
    });
    for (const ok of ['https://kms.eu-west-1.amazonaws.com', 'http://127.0.0.1:4566', 'http://127.9.9.9:1/', 'http://localhost:4566', 'http://[::1]:4566']) {
      test(`${name}: accepts ${ok}`, () => assert.equal(load(env({ [name]: ok })).source.kind, 'file'));
    }
    test(`${name}: an empty value counts as unset (the SDK ignores it)`, () => assert.equal(load(env({ [name]: '' })).source.kind, 'file'));
    test(`${name}: a value that is not a URL is refused without being echoed`, () =>
      void refuseWith(env({ [name]: 'https://ak:PwLike9@[bad' }), [`${name}: is not a valid URL; ${EXPECTED}`]));
    test(`${name}: a non-http scheme is refused`, () =>
      void refuseWith(env({ [name]: 'ftp://kms.example.com' }), [`${name}: uses the unsupported scheme "ftp:"; ${EXPECTED}`]));
    test(`${name}: user:password in the URL is refused, masked`, () =>
      void refuseWith(env({ [name]: 'https://ak:EndpointPw1@kms.example.com' }), [
        `${name}: "https://***@kms.example.com/" contains credentials (user:password); ${EXPECTED}, without user:password`,
      ]));
  }

  test('every refused endpoint is reported at once, in a fixed order', () =>
    void refuseWith(env({ AWS_ENDPOINT_URL_S3: 'http://s3.internal', AWS_ENDPOINT_URL_STS: 'nope', AWS_ENDPOINT_URL_KMS: 'http://kms.internal' }), [
      plain('AWS_ENDPOINT_URL_KMS', 'http://kms.internal/'),
      `AWS_ENDPOINT_URL_STS: is not a valid URL; ${EXPECTED}`,
      plain('AWS_ENDPOINT_URL_S3', 'http://s3.internal/'),
    ]));

  test('an invalid CLEF_AGENT_ALLOW_HTTP is reported once; the endpoints are still checked for syntax', () =>
    void refuseWith(env({ CLEF_AGENT_ALLOW_HTTP: 'yes', AWS_ENDPOINT_URL_KMS: 'http://kms.internal', AWS_ENDPOINT_URL_STS: 'bad' }), [
      'CLEF_AGENT_ALLOW_HTTP: "yes" is not a boolean; expected true, false, 1 or 0',
      `AWS_ENDPOINT_URL_STS: is not a valid URL; ${EXPECTED}`,
    ]));

  test('an S3 source under a refused AWS_ENDPOINT_URL_S3 gets one line, not two', () =>
    void refuseWith(env({ CLEF_AGENT_SOURCE: 's3://bkt/a.json', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: 'not a url' }), [
      `AWS_ENDPOINT_URL_S3: is not a valid URL; ${EXPECTED}`,
    ]));

  test('an S3 source falls back to AWS_ENDPOINT_URL when AWS_ENDPOINT_URL_S3 is empty', () => {
    const c = load(env({ CLEF_AGENT_SOURCE: 's3://bkt/a.json', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: '', AWS_ENDPOINT_URL: 'http://127.0.0.1:4566' }));
    assert.equal(c.source.kind === 's3' ? c.source.url : '', 'http://127.0.0.1:4566/bkt/a.json');
  });
});
