/**
 * S3 sources in-process: the SDK signer's SigV4 headers, verified by a local S3-compatible server
 * that re-signs each request with the SDK signer; ETag change marker and 304; errors and their
 * messages; the one fetch policy (retries, size cap). Credential *chains* (env, profile, ECS) are
 * exercised through the real agent in test/e2e/source-s3.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FetchPolicy, S3SourceSpec, TaskFailure } from '../../common/protocol.js';
import { fetchS3, type AwsCredentials, type S3Deps } from '../../workers/fetch/s3.js';
import type { FetchOutcome } from '../../workers/fetch/types.js';
import { S3Server } from '../../emulators/s3-server.js';

const policy: FetchPolicy = { timeoutMs: 5000, maxBytes: 64 * 1024, retries: 2, allowHttp: false };
const CREDS: AwsCredentials = { accessKeyId: 'AKIDTESTEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const TEMP: AwsCredentials = {
  accessKeyId: 'ASIATEMPEXAMPLE',
  secretAccessKey: 'TempSecretKeyValue0123456789',
  sessionToken: 'SessionTokenValue-abc/def+ghi=',
};
const BODY = '{"version":1,"note":"not validated here"}';

let s3: S3Server;
const noSleep = { sleep: () => Promise.resolve() };

before(async () => {
  s3 = await new S3Server().start();
  s3.credentials.set(CREDS.accessKeyId, { secretAccessKey: CREDS.secretAccessKey });
  s3.credentials.set(TEMP.accessKeyId, { secretAccessKey: TEMP.secretAccessKey, sessionToken: TEMP.sessionToken ?? '' });
  s3.put('clef-bucket', 'api/production.age.json', BODY);
  s3.put('clef-bucket', 'odd keys/a+b (1)*.json', BODY);
});
after(() => s3.close());

function spec(key = 'api/production.age.json', region = 'eu-west-1'): S3SourceSpec {
  const path = key.split('/').map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`));
  return { kind: 's3', url: `${s3.endpoint}/clef-bucket/${path.join('/')}`, region, bucket: 'clef-bucket', key };
}

function bytes(r: FetchOutcome | TaskFailure): { text: string; marker: string | undefined } {
  assert.ok(!('ok' in r), JSON.stringify(r));
  assert.equal(r.kind, 'bytes');
  return { text: r.kind === 'bytes' ? Buffer.from(r.bytes).toString('utf8') : '', marker: r.marker };
}

function failure(r: FetchOutcome | TaskFailure): TaskFailure {
  assert.ok('ok' in r, JSON.stringify(r));
  return r;
}

describe('S3 sources (SigV4 with the SDK signer)', () => {
  test('a signed GET is accepted by a server that re-signs it; the region is in the credential scope', async () => {
    const r = bytes(await fetchS3(spec(), policy, undefined, { credentials: () => Promise.resolve(CREDS) }));
    assert.equal(r.text, BODY);
    const last = s3.requests.at(-1);
    assert.equal(last?.outcome, 'ok');
    assert.equal(last?.scope, 'eu-west-1');
    assert.match(String(last?.headers['x-amz-content-sha256']), /^[0-9a-f]{64}$/);
  });

  test('temporary credentials send and sign x-amz-security-token', async () => {
    bytes(await fetchS3(spec(), policy, undefined, { credentials: () => Promise.resolve(TEMP) }));
    assert.equal(s3.requests.at(-1)?.headers['x-amz-security-token'], TEMP.sessionToken);
    assert.match(String(s3.requests.at(-1)?.headers['authorization']), /SignedHeaders=[^,]*x-amz-security-token/);
  });

  test('keys with spaces and reserved characters are encoded and signed as S3 expects', async () => {
    const r = bytes(await fetchS3(spec('odd keys/a+b (1)*.json'), policy, undefined, { credentials: () => Promise.resolve(CREDS) }));
    assert.equal(r.text, BODY);
  });

  test('the ETag is the change marker: If-None-Match → 304 → unchanged', async () => {
    const first = bytes(await fetchS3(spec(), policy, undefined, { credentials: () => Promise.resolve(CREDS) }));
    assert.ok(first.marker !== undefined);
    const second = await fetchS3(spec(), policy, first.marker, { credentials: () => Promise.resolve(CREDS) });
    assert.deepEqual(second, { kind: 'unchanged', marker: first.marker });
    assert.equal(s3.requests.at(-1)?.outcome, '304');
  });

  test('a wrong secret is refused by the server (403, not retried) and no secret is in the message', async () => {
    const before = s3.requests.length;
    const f = failure(
      await fetchS3(spec(), policy, undefined, { credentials: () => Promise.resolve({ ...CREDS, secretAccessKey: 'WrongSecret' }), ...noSleep }),
    );
    assert.equal(f.code, 'fetch_status');
    assert.equal(f.status, 403);
    assert.equal(s3.requests.length - before, 1, '403 without rate-limit headers is not retried');
    assert.equal(s3.requests.at(-1)?.outcome, 'SignatureDoesNotMatch');
    assert.doesNotMatch(f.message, /WrongSecret|AKID|wJalr/);
  });

  test('a missing object is 404', async () => {
    const f = failure(await fetchS3(spec('nope.json'), policy, undefined, { credentials: () => Promise.resolve(CREDS) }));
    assert.equal(f.status, 404);
  });

  test('no credentials anywhere → credentials_unavailable, with the provider error summarised', async () => {
    const err = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
    const before = s3.requests.length;
    const f = failure(await fetchS3(spec(), policy, undefined, { credentials: () => Promise.reject(err) }));
    assert.equal(f.code, 'credentials_unavailable');
    assert.match(f.message, /CredentialsProviderError: Could not load credentials/);
    assert.equal(s3.requests.length, before, 'nothing is sent unsigned');
  });

  test('the one fetch policy applies: 503 is retried, then served', async () => {
    const before = s3.requests.length;
    s3.down = 503;
    const sleeps: number[] = [];
    const p = fetchS3(spec(), policy, undefined, {
      credentials: () => Promise.resolve(CREDS),
      sleep: (ms) => {
        sleeps.push(ms);
        s3.down = undefined;
        return Promise.resolve();
      },
    });
    bytes(await p);
    assert.equal(s3.requests.length - before, 2);
    assert.equal(sleeps.length, 1);
  });

  test('the one fetch policy applies: the size cap', async () => {
    const f = failure(await fetchS3(spec(), { ...policy, maxBytes: 10 }, undefined, { credentials: () => Promise.resolve(CREDS) }));
    assert.equal(f.code, 'too_large');
  });

  test('plain http to a non-loopback S3 endpoint is refused without ALLOW_HTTP', async () => {
    const f = failure(await fetchS3({ ...spec(), url: 'http://minio.internal:9000/b/k' }, policy, undefined, { credentials: () => Promise.resolve(CREDS) }));
    assert.equal(f.code, 'insecure_source');
    assert.match(f.message, /CLEF_AGENT_ALLOW_HTTP/);
  });

  test('a verify key does not let a signed S3 request go over plain http (it carries the session token)', async () => {
    const url = new URL(spec().url);
    const n = s3.requests.length;
    // A non-loopback name resolving to the local server: only the plain-http rule stands in the way.
    const resolve: S3Deps['resolve'] = (_h, _o, cb) => cb(null, [{ address: '127.0.0.1', family: 4 }]);
    const remote = { ...spec(), url: `http://minio.test:${url.port}${url.pathname}` };
    const f = failure(
      await fetchS3(remote, { ...policy, allowHttpWithoutCredentials: true }, undefined, { credentials: () => Promise.resolve(TEMP), resolve, ...noSleep }),
    );
    assert.equal(f.code, 'insecure_source');
    assert.match(f.message, /CLEF_AGENT_ALLOW_HTTP/);
    assert.equal(s3.requests.length, n, 'nothing reached the S3 server');
  });
});
