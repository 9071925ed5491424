/**
 * SPEC §3 through the real CLI: the artifact location — CLEF_AGENT_SOURCE or the CLEF_AGENT_VCS_*
 * group, exactly one. Every invalid value: the message on stderr, exit 2, nothing listening, no
 * credential echoed.
 */
import { generateKeyPairSync } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { assertRefused, baseEnv, runCli } from '../helpers/config-cli.js';
import { suiteTempDirs } from '../kit/index.js';

const VCS_REQUIRED = 'CLEF_AGENT_VCS_PROVIDER, CLEF_AGENT_VCS_REPO, CLEF_AGENT_VCS_TOKEN, CLEF_AGENT_VCS_IDENTITY, CLEF_AGENT_VCS_ENVIRONMENT';
const SOURCE_EXPECTED = 'a file path, an http(s):// URL or an S3 URL (s3://bucket/key)';
const NAME_EXPECTED = "a name of letters, digits, '.', '_' and '-' starting with a letter or digit (at most 128 characters)";
const VCS_TOKEN_SECRET = 'ghp_VcsTokenSecret123';

/** A complete, valid VCS group replacing CLEF_AGENT_SOURCE. */
const VCS = {
  CLEF_AGENT_SOURCE: null,
  CLEF_AGENT_VCS_PROVIDER: 'github',
  CLEF_AGENT_VCS_REPO: 'acme/secrets',
  CLEF_AGENT_VCS_TOKEN: VCS_TOKEN_SECRET,
  CLEF_AGENT_VCS_IDENTITY: 'api',
  CLEF_AGENT_VCS_ENVIRONMENT: 'production',
} as const;

describe('§3 config: CLEF_AGENT_SOURCE and the VCS group', { concurrency: 6 }, () => {
  const dir = suiteTempDirs('clef-config-').make();
  let base: Record<string, string>;
  before(async () => {
    base = await baseEnv(dir);
  });

  it('§3 CLEF_AGENT_SOURCE: neither a source nor a VCS group → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_SOURCE: null }), [
      `CLEF_AGENT_SOURCE: is not set; expected CLEF_AGENT_SOURCE (${SOURCE_EXPECTED}) or the VCS group ${VCS_REQUIRED}`,
    ]);
  });

  it('§3 CLEF_AGENT_SOURCE: empty → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_SOURCE: '' }), [`CLEF_AGENT_SOURCE: is empty; expected ${SOURCE_EXPECTED}`]);
  });

  it('§3 CLEF_AGENT_SOURCE: an unsupported scheme (ftp://) → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_SOURCE: 'ftp://files.example.com/a.json' }), [
      'CLEF_AGENT_SOURCE: uses the unsupported scheme "ftp:"; expected a file path, an http(s):// URL, an s3:// URL or a file:// URL',
    ]);
  });

  it('§3 CLEF_AGENT_SOURCE: an s3:// URL without AWS_REGION/AWS_DEFAULT_REGION → refused with the remedy, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_SOURCE: 's3://artifacts-bucket/api/production.age.json' }), [
      'CLEF_AGENT_SOURCE: "s3://artifacts-bucket/api/production.age.json" does not say its region, and neither AWS_REGION nor AWS_DEFAULT_REGION is set; expected AWS_REGION (e.g. eu-west-1) set for an s3:// source, or the https://bucket.s3.<region>.amazonaws.com/key form',
    ]);
  });

  it('§3 CLEF_AGENT_SOURCE: an https S3 URL (path style) without a bucket → refused, exit 2, query values masked', { timeout: 30_000 }, async () => {
    assertRefused(
      await runCli(base, { CLEF_AGENT_SOURCE: 'https://s3.eu-west-1.amazonaws.com/?versionId=QuerySecret42' }),
      [
        'CLEF_AGENT_SOURCE: "https://s3.eu-west-1.amazonaws.com/?***" does not name a valid bucket; expected s3://bucket/key, https://bucket.s3.<region>.amazonaws.com/key or https://s3.<region>.amazonaws.com/bucket/key',
      ],
      ['QuerySecret42'],
    );
  });

  it('§3 AWS_ENDPOINT_URL_S3: plain http to a non-loopback endpoint → refused (it would carry the session token), exit 2', { timeout: 30_000 }, async () => {
    assertRefused(
      await runCli(base, {
        CLEF_AGENT_SOURCE: 's3://artifacts-bucket/a.json',
        AWS_REGION: 'us-east-1',
        AWS_ENDPOINT_URL_S3: 'http://minio.example.com:9000',
        AWS_SECRET_ACCESS_KEY: 'AwsSecretKey1234',
      }),
      [
        'AWS_ENDPOINT_URL_S3: "http://minio.example.com:9000/" uses plain http to a non-loopback host, which would carry the AWS session token unencrypted; expected an https:// URL, an http:// URL to a loopback host (127.0.0.0/8, ::1, localhost), or CLEF_AGENT_ALLOW_HTTP=true',
      ],
      ['AwsSecretKey1234'],
    );
  });

  it('§3 AWS_ENDPOINT_URL_KMS / _STS / AWS_ENDPOINT_URL: plain http to a non-loopback host → refused for any source, exit 2', { timeout: 30_000 }, async () => {
    const expected = 'expected an https:// URL, an http:// URL to a loopback host (127.0.0.0/8, ::1, localhost), or CLEF_AGENT_ALLOW_HTTP=true';
    assertRefused(
      await runCli(base, {
        AWS_ENDPOINT_URL: 'http://localstack.example.com:4566',
        AWS_ENDPOINT_URL_KMS: 'http://kms.example.com',
        AWS_ENDPOINT_URL_STS: 'http://ak:StsEndpointPw1@sts.example.com',
        AWS_SECRET_ACCESS_KEY: 'AwsSecretKey1234',
      }),
      [
        `AWS_ENDPOINT_URL: "http://localstack.example.com:4566/" uses plain http to a non-loopback host, which would carry the AWS session token and the data keys KMS returns unencrypted; ${expected}`,
        `AWS_ENDPOINT_URL_KMS: "http://kms.example.com/" uses plain http to a non-loopback host, which would carry the AWS session token and the data keys KMS returns unencrypted; ${expected}`,
        `AWS_ENDPOINT_URL_STS: "http://***@sts.example.com/" contains credentials (user:password); ${expected}, without user:password`,
      ],
      ['AwsSecretKey1234', 'StsEndpointPw1'],
    );
  });

  it('§3 AWS_ENDPOINT_URL_KMS: not a URL → refused without being echoed, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(
      await runCli(base, { AWS_ENDPOINT_URL_KMS: 'https://ak:KmsEndpointPw2@[kms' }),
      [
        'AWS_ENDPOINT_URL_KMS: is not a valid URL; expected an https:// URL, an http:// URL to a loopback host (127.0.0.0/8, ::1, localhost), or CLEF_AGENT_ALLOW_HTTP=true',
      ],
      ['KmsEndpointPw2'],
    );
  });

  it('§3 CLEF_AGENT_SOURCE: an unparsable http URL is refused without being echoed', { timeout: 30_000 }, async () => {
    assertRefused(
      await runCli(base, { CLEF_AGENT_SOURCE: 'http://user:UnparsablePw9@[bad' }),
      [`CLEF_AGENT_SOURCE: is not a valid URL; expected ${SOURCE_EXPECTED}`],
      ['UnparsablePw9'],
    );
  });

  it('§3 CLEF_AGENT_ALLOW_HTTP rule: plain http to a non-loopback host without a verify key → refused, password masked', { timeout: 30_000 }, async () => {
    assertRefused(
      await runCli(base, { CLEF_AGENT_SOURCE: 'http://deploy:HttpPassw0rd@artifacts.example.com/a.json' }),
      [
        'CLEF_AGENT_SOURCE: "http://***@artifacts.example.com/a.json" uses plain http to a non-loopback host, which would send its credentials (user:password or a signed query) unencrypted; expected an https:// URL, or CLEF_AGENT_ALLOW_HTTP=true (a verify key protects the artifact, not the credentials)',
      ],
      ['HttpPassw0rd', 'deploy:'],
    );
  });

  it(
    '§3 CLEF_AGENT_ALLOW_HTTP rule: URL credentials or a presigned query over plain http are refused even with a verify key',
    { timeout: 30_000 },
    async () => {
      const verifyKey = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
      const expected =
        'uses plain http to a non-loopback host, which would send its credentials (user:password or a signed query) unencrypted; expected an https:// URL, or CLEF_AGENT_ALLOW_HTTP=true (a verify key protects the artifact, not the credentials)';
      assertRefused(
        await runCli(base, { CLEF_AGENT_SOURCE: 'http://deploy:HttpPassw0rd@artifacts.example.com/a.json', CLEF_AGENT_VERIFY_KEY: verifyKey }),
        [`CLEF_AGENT_SOURCE: "http://***@artifacts.example.com/a.json" ${expected}`],
        ['HttpPassw0rd', 'deploy:'],
      );
      assertRefused(
        await runCli(base, { CLEF_AGENT_SOURCE: 'http://artifacts.example.com/a.json?X-Amz-Signature=PresignSig77', CLEF_AGENT_VERIFY_KEY: verifyKey }),
        [`CLEF_AGENT_SOURCE: "http://artifacts.example.com/a.json?***" ${expected}`],
        ['PresignSig77'],
      );
    },
  );

  it('§3: CLEF_AGENT_SOURCE together with the VCS group → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_VCS_PROVIDER: 'github' }), [
      'CLEF_AGENT_SOURCE: is set together with CLEF_AGENT_VCS_PROVIDER; expected either CLEF_AGENT_SOURCE or the CLEF_AGENT_VCS_* group, not both',
    ]);
  });

  it('§3: a partial VCS group names every missing variable, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { CLEF_AGENT_SOURCE: null, CLEF_AGENT_VCS_PROVIDER: 'github', CLEF_AGENT_VCS_REPO: 'acme/secrets' }), [
      `CLEF_AGENT_VCS_TOKEN, CLEF_AGENT_VCS_IDENTITY, CLEF_AGENT_VCS_ENVIRONMENT: are not set, but the VCS group needs them; expected ${VCS_REQUIRED} set together (CLEF_AGENT_VCS_REF and CLEF_AGENT_VCS_API_URL are optional)`,
    ]);
  });

  it('§3 CLEF_AGENT_VCS_PROVIDER: an unknown provider → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(
      await runCli(base, { ...VCS, CLEF_AGENT_VCS_PROVIDER: 'svn' }),
      ['CLEF_AGENT_VCS_PROVIDER: "svn" is not a valid VCS provider; expected one of github, gitlab, bitbucket'],
      [VCS_TOKEN_SECRET],
    );
  });

  it('§3 CLEF_AGENT_VCS_REPO: not owner/repo → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { ...VCS, CLEF_AGENT_VCS_REPO: 'justone' }), [
      `CLEF_AGENT_VCS_REPO: "justone" is not a valid repository path; expected owner/repo (letters, digits, '.', '_' and '-')`,
    ]);
  });

  it('§3 CLEF_AGENT_VCS_TOKEN: a token with a space → refused without echoing it, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(
      await runCli(base, { ...VCS, CLEF_AGENT_VCS_TOKEN: 'ghp_Spaced Secret77' }),
      [
        "CLEF_AGENT_VCS_TOKEN: contains a space, a control character or a non-ASCII character; expected the provider's API token (visible ASCII characters, no spaces)",
      ],
      ['ghp_Spaced', 'Secret77'],
    );
  });

  it('§3 CLEF_AGENT_VCS_IDENTITY: a path-like name → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { ...VCS, CLEF_AGENT_VCS_IDENTITY: '../etc' }), [
      `CLEF_AGENT_VCS_IDENTITY: "../etc" is not a valid name; expected ${NAME_EXPECTED}`,
    ]);
  });

  it('§3 CLEF_AGENT_VCS_ENVIRONMENT: a name with a slash → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { ...VCS, CLEF_AGENT_VCS_ENVIRONMENT: 'prod/eu' }), [
      `CLEF_AGENT_VCS_ENVIRONMENT: "prod/eu" is not a valid name; expected ${NAME_EXPECTED}`,
    ]);
  });

  it('§3 CLEF_AGENT_VCS_REF: a ref starting with "-" → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { ...VCS, CLEF_AGENT_VCS_REF: '-delete' }), [
      'CLEF_AGENT_VCS_REF: "-delete" is not a valid git ref; expected a branch, tag or commit name (no spaces, not starting with "-", no "..")',
    ]);
  });

  it('§3 CLEF_AGENT_VCS_API_URL: not a URL → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { ...VCS, CLEF_AGENT_VCS_API_URL: 'not a url' }), [
      'CLEF_AGENT_VCS_API_URL: is not a valid URL; expected an http:// or https:// URL',
    ]);
  });

  it('§3 CLEF_AGENT_VCS_API_URL: plain http to a non-loopback host → refused (it would carry the VCS token), exit 2', { timeout: 30_000 }, async () => {
    assertRefused(
      await runCli(base, { ...VCS, CLEF_AGENT_VCS_API_URL: 'http://git.example.com/api/v4' }),
      [
        'CLEF_AGENT_VCS_API_URL: "http://git.example.com/api/v4" uses plain http to a non-loopback host, which would send the VCS token unencrypted; expected an https:// URL, or CLEF_AGENT_ALLOW_HTTP=true',
      ],
      [VCS_TOKEN_SECRET],
    );
  });

  it('§3: CLEF_AGENT_EXPECT_IDENTITY differing from CLEF_AGENT_VCS_IDENTITY → refused, exit 2', { timeout: 30_000 }, async () => {
    assertRefused(await runCli(base, { ...VCS, CLEF_AGENT_EXPECT_IDENTITY: 'billing' }), [
      'CLEF_AGENT_EXPECT_IDENTITY: "billing" differs from CLEF_AGENT_VCS_IDENTITY ("api"); expected the same identity, or unset',
    ]);
  });
});
