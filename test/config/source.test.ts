/** CLEF_AGENT_SOURCE, the VCS group and the plain-http rule (SPEC §3). */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { after, describe, test } from 'node:test';
import { cleanup, env, load, refuse, refuseWith, type Env } from './helpers.js';

after(cleanup);

const SOURCE_EXPECTED = 'expected a file path, an http(s):// URL or an S3 URL (s3://bucket/key)';

describe('CLEF_AGENT_SOURCE', () => {
  test('CLEF_AGENT_SOURCE: accepts an absolute file path, not read at config time', () => {
    const c = load(env({ CLEF_AGENT_SOURCE: '/does/not/exist.json' }));
    assert.deepEqual(c.source, { kind: 'file', path: '/does/not/exist.json' });
    assert.equal(c.sourceLabel, '/does/not/exist.json');
  });
  test('CLEF_AGENT_SOURCE: resolves a relative file path against the working directory', () =>
    assert.deepEqual(load(env({ CLEF_AGENT_SOURCE: 'secrets/app.json' })).source, { kind: 'file', path: '/work/app/secrets/app.json' }));
  test('CLEF_AGENT_SOURCE: accepts ./ for a file name containing a colon', () =>
    assert.deepEqual(load(env({ CLEF_AGENT_SOURCE: './a:b.json' })).source, { kind: 'file', path: '/work/app/a:b.json' }));
  test('CLEF_AGENT_SOURCE: accepts a local file:// URL as a file path', () =>
    assert.deepEqual(load(env({ CLEF_AGENT_SOURCE: 'file:///srv/a%20b.json' })).source, { kind: 'file', path: '/srv/a b.json' }));
  test('CLEF_AGENT_SOURCE: rejects a file:// URL with a remote host', () =>
    void refuseWith(env({ CLEF_AGENT_SOURCE: 'file://fileserver/share/a.json' }), [
      'CLEF_AGENT_SOURCE: is not a local file:// URL; expected file:///absolute/path, a file path or an http(s):// URL',
    ]));
  test('CLEF_AGENT_SOURCE: accepts an https URL', () => {
    const c = load(env({ CLEF_AGENT_SOURCE: 'https://artifacts.example.com/app/production.age.json' }));
    assert.deepEqual(c.source, { kind: 'http', url: 'https://artifacts.example.com/app/production.age.json' });
    assert.equal(c.sourceLabel, 'https://artifacts.example.com/app/production.age.json');
  });
  test('CLEF_AGENT_SOURCE: masks credentials and query values in the label, keeps them in the URL', () => {
    const raw = 'https://deploy:s3cr3t@artifacts.example.com/app.json?X-Amz-Signature=abc123&token=t0k&v=2#frag';
    const c = load(env({ CLEF_AGENT_SOURCE: raw }));
    assert.equal(c.sourceLabel, 'https://***@artifacts.example.com/app.json?***');
    assert.deepEqual(c.source, { kind: 'http', url: raw });
  });
  test('CLEF_AGENT_SOURCE: masks a user name without a password', () =>
    assert.equal(load(env({ CLEF_AGENT_SOURCE: 'https://ghp_abcdef@host.example/a.json' })).sourceLabel, 'https://***@host.example/a.json'));
  test('CLEF_AGENT_SOURCE: rejects an empty value', () => void refuseWith(env({ CLEF_AGENT_SOURCE: '' }), [`CLEF_AGENT_SOURCE: is empty; ${SOURCE_EXPECTED}`]));
  test('CLEF_AGENT_SOURCE: rejects an unparsable http URL without echoing it', () =>
    void refuseWith(env({ CLEF_AGENT_SOURCE: 'https://user:pa ss@exa mple.com/a' }), [`CLEF_AGENT_SOURCE: is not a valid URL; ${SOURCE_EXPECTED}`]));
  test('CLEF_AGENT_SOURCE: rejects other schemes, listing the accepted forms', () =>
    void refuseWith(env({ CLEF_AGENT_SOURCE: 'ftp://files.example.com/a.json' }), [
      'CLEF_AGENT_SOURCE: uses the unsupported scheme "ftp:"; expected a file path, an http(s):// URL, an s3:// URL or a file:// URL',
    ]));
  const s3 = (url: string, region: string, bucket: string, key: string, requestUrl = url) => ({ kind: 's3', url: requestUrl, region, bucket, key });
  for (const [raw, expected] of [
    ['https://my-bucket.s3.amazonaws.com/clef/app.json', s3('https://my-bucket.s3.amazonaws.com/clef/app.json', 'us-east-1', 'my-bucket', 'clef/app.json')],
    [
      'https://my-bucket.s3.eu-west-1.amazonaws.com/clef/app.json',
      s3('https://my-bucket.s3.eu-west-1.amazonaws.com/clef/app.json', 'eu-west-1', 'my-bucket', 'clef/app.json'),
    ],
    ['https://s3.amazonaws.com/my-bucket/clef/app.json', s3('https://s3.amazonaws.com/my-bucket/clef/app.json', 'us-east-1', 'my-bucket', 'clef/app.json')],
    [
      'https://s3.us-east-2.amazonaws.com/my-bucket/clef/app.json',
      s3('https://s3.us-east-2.amazonaws.com/my-bucket/clef/app.json', 'us-east-2', 'my-bucket', 'clef/app.json'),
    ],
    [
      'https://my-bucket.s3-us-west-2.amazonaws.com/clef/app.json',
      s3('https://my-bucket.s3-us-west-2.amazonaws.com/clef/app.json', 'us-west-2', 'my-bucket', 'clef/app.json'),
    ],
    [
      'https://my.dotted.bucket.s3.dualstack.ap-south-1.amazonaws.com/a%20b.json',
      s3('https://my.dotted.bucket.s3.dualstack.ap-south-1.amazonaws.com/a%20b.json', 'ap-south-1', 'my.dotted.bucket', 'a b.json'),
    ],
    ['https://b1.s3.cn-north-1.amazonaws.com.cn/k.json', s3('https://b1.s3.cn-north-1.amazonaws.com.cn/k.json', 'cn-north-1', 'b1', 'k.json')],
  ] as const) {
    test(`CLEF_AGENT_SOURCE: an https S3 URL is an S3 source with the region from the host (${raw})`, () => {
      const c = load(env({ CLEF_AGENT_SOURCE: raw }));
      assert.deepEqual(c.source, expected);
      assert.equal(c.sourceLabel, raw);
    });
  }
  test('CLEF_AGENT_SOURCE: s3:// takes the region from AWS_REGION and builds the virtual-hosted URL', () => {
    const c = load(env({ CLEF_AGENT_SOURCE: 's3://my-bucket/clef/api (1).json', AWS_REGION: 'eu-central-1' }));
    assert.deepEqual(c.source, s3('https://my-bucket.s3.eu-central-1.amazonaws.com/clef/api%20%281%29.json', 'eu-central-1', 'my-bucket', 'clef/api (1).json'));
    assert.equal(c.sourceLabel, 's3://my-bucket/clef/api (1).json');
  });
  test('CLEF_AGENT_SOURCE: s3:// falls back to AWS_DEFAULT_REGION; a dotted bucket uses path style', () =>
    assert.deepEqual(
      load(env({ CLEF_AGENT_SOURCE: 's3://my.bucket/k.json', AWS_DEFAULT_REGION: 'us-west-1' })).source,
      s3('https://s3.us-west-1.amazonaws.com/my.bucket/k.json', 'us-west-1', 'my.bucket', 'k.json'),
    ));
  test('CLEF_AGENT_SOURCE: s3:// without AWS_REGION or AWS_DEFAULT_REGION is refused with a clear remedy', () =>
    void refuseWith(env({ CLEF_AGENT_SOURCE: 's3://my-bucket/clef/app.json' }), [
      'CLEF_AGENT_SOURCE: "s3://my-bucket/clef/app.json" does not say its region, and neither AWS_REGION nor AWS_DEFAULT_REGION is set; expected AWS_REGION (e.g. eu-west-1) set for an s3:// source, or the https://bucket.s3.<region>.amazonaws.com/key form',
    ]));
  test('CLEF_AGENT_SOURCE: s3:// without a key is refused', () =>
    void refuseWith(env({ CLEF_AGENT_SOURCE: 's3://my-bucket/', AWS_REGION: 'eu-west-1' }), [
      'CLEF_AGENT_SOURCE: "s3://my-bucket/" names no object key; expected s3://bucket/key, https://bucket.s3.<region>.amazonaws.com/key or https://s3.<region>.amazonaws.com/bucket/key',
    ]));
  test('AWS_ENDPOINT_URL_S3: every S3 form becomes path style under the endpoint', () => {
    const e = { AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000/', AWS_REGION: 'us-east-1' };
    const c = load(env({ CLEF_AGENT_SOURCE: 's3://bkt/dir/a.json', ...e }));
    assert.deepEqual(c.source, s3('http://127.0.0.1:9000/bkt/dir/a.json', 'us-east-1', 'bkt', 'dir/a.json'));
    assert.equal(c.sourceLabel, 's3://bkt/dir/a.json via http://127.0.0.1:9000/');
    const h = load(env({ CLEF_AGENT_SOURCE: 'https://bkt.s3.eu-west-3.amazonaws.com/a.json', ...e }));
    assert.equal(h.source.kind === 's3' ? h.source.url : '', 'http://127.0.0.1:9000/bkt/a.json');
  });
  test('AWS_ENDPOINT_URL_S3: plain http to a non-loopback endpoint needs CLEF_AGENT_ALLOW_HTTP (session token)', () => {
    const e = { CLEF_AGENT_SOURCE: 's3://bkt/a.json', AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL_S3: 'http://minio.internal:9000' };
    refuseWith(env(e), [
      'AWS_ENDPOINT_URL_S3: "http://minio.internal:9000/" uses plain http to a non-loopback host, which would carry the AWS session token unencrypted; expected an https:// URL, an http:// URL to a loopback host (127.0.0.0/8, ::1, localhost), or CLEF_AGENT_ALLOW_HTTP=true',
    ]);
    assert.equal(load(env({ ...e, CLEF_AGENT_ALLOW_HTTP: 'true' })).source.kind, 's3');
  });
  test('CLEF_AGENT_SOURCE: a presigned S3 URL is a plain https source, its query masked in the label', () => {
    const c = load(env({ CLEF_AGENT_SOURCE: 'https://b.s3.amazonaws.com/k?X-Amz-Signature=deadbeef' }));
    assert.equal(c.source.kind, 'http');
    assert.equal(c.sourceLabel, 'https://b.s3.amazonaws.com/k?***');
  });
  test('CLEF_AGENT_SOURCE: does not mistake a look-alike host for S3', () =>
    assert.equal(load(env({ CLEF_AGENT_SOURCE: 'https://s3.amazonaws.com.evil.example/a.json' })).source.kind, 'http'));
});

describe('exactly one of CLEF_AGENT_SOURCE or the VCS group', () => {
  test('CLEF_AGENT_SOURCE: neither set names both options', () =>
    void refuseWith(env({ CLEF_AGENT_SOURCE: undefined }), [
      'CLEF_AGENT_SOURCE: is not set; expected CLEF_AGENT_SOURCE (a file path, an http(s):// URL or an S3 URL (s3://bucket/key)) or the VCS group CLEF_AGENT_VCS_PROVIDER, CLEF_AGENT_VCS_REPO, CLEF_AGENT_VCS_TOKEN, CLEF_AGENT_VCS_IDENTITY, CLEF_AGENT_VCS_ENVIRONMENT',
    ]));
  test('CLEF_AGENT_SOURCE: both set is refused, naming the VCS variables found', () =>
    void refuseWith(env({ CLEF_AGENT_VCS_PROVIDER: 'github', CLEF_AGENT_VCS_REPO: 'acme/secrets' }), [
      'CLEF_AGENT_SOURCE: is set together with CLEF_AGENT_VCS_PROVIDER, CLEF_AGENT_VCS_REPO; expected either CLEF_AGENT_SOURCE or the CLEF_AGENT_VCS_* group, not both',
    ]));
});

/** A complete, valid VCS group (no SOURCE). */
function vcs(overrides: Env = {}): Env {
  return env({
    CLEF_AGENT_SOURCE: undefined,
    CLEF_AGENT_VCS_PROVIDER: 'github',
    CLEF_AGENT_VCS_REPO: 'acme/secrets',
    CLEF_AGENT_VCS_TOKEN: 'ghp_0123456789abcdefghijklmnopqrstuvwxyz',
    CLEF_AGENT_VCS_IDENTITY: 'api-gateway',
    CLEF_AGENT_VCS_ENVIRONMENT: 'production',
    ...overrides,
  });
}

const REQUIRED =
  'expected CLEF_AGENT_VCS_PROVIDER, CLEF_AGENT_VCS_REPO, CLEF_AGENT_VCS_TOKEN, CLEF_AGENT_VCS_IDENTITY, CLEF_AGENT_VCS_ENVIRONMENT set together (CLEF_AGENT_VCS_REF and CLEF_AGENT_VCS_API_URL are optional)';
const NAME_EXPECTED = "expected a name of letters, digits, '.', '_' and '-' starting with a letter or digit (at most 128 characters)";

describe('the VCS group', () => {
  test('CLEF_AGENT_VCS_PROVIDER: a complete, valid group is a vcs source; the label never shows the token', () => {
    const c = load(vcs({ CLEF_AGENT_VCS_REF: 'main', CLEF_AGENT_VCS_API_URL: 'https://github.example.com/api/v3/' }));
    assert.deepEqual(c.source, {
      kind: 'vcs',
      provider: 'github',
      repo: 'acme/secrets',
      token: 'ghp_0123456789abcdefghijklmnopqrstuvwxyz',
      path: '.clef/packed/api-gateway/production.age.json',
      ref: 'main',
      apiUrl: 'https://github.example.com/api/v3',
    });
    assert.equal(c.sourceLabel, 'github:acme/secrets/.clef/packed/api-gateway/production.age.json@main via https://github.example.com/api/v3/');
    assert.equal(c.expectIdentity, 'api-gateway');
  });
  for (const [provider, api] of [
    ['github', 'https://api.github.com'],
    ['gitlab', 'https://gitlab.com/api/v4'],
    ['bitbucket', 'https://api.bitbucket.org/2.0'],
  ] as const) {
    test(`CLEF_AGENT_VCS_API_URL: defaults to the public ${provider} API`, () => {
      const c = load(vcs({ CLEF_AGENT_VCS_PROVIDER: provider }));
      assert.equal(c.source.kind === 'vcs' ? c.source.apiUrl : '', api);
      assert.equal(c.sourceLabel, `${provider}:acme/secrets/.clef/packed/api-gateway/production.age.json@default branch`);
    });
  }
  test('CLEF_AGENT_VCS_*: a partial group is one error naming every missing variable', () => {
    const err = refuseWith(vcs({ CLEF_AGENT_VCS_TOKEN: undefined, CLEF_AGENT_VCS_IDENTITY: undefined, CLEF_AGENT_VCS_ENVIRONMENT: undefined }), [
      `CLEF_AGENT_VCS_TOKEN, CLEF_AGENT_VCS_IDENTITY, CLEF_AGENT_VCS_ENVIRONMENT: are not set, but the VCS group needs them; ${REQUIRED}`,
    ]);
    assert.equal(err.variable, 'CLEF_AGENT_VCS_TOKEN');
  });
  test('CLEF_AGENT_VCS_*: one missing variable', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_ENVIRONMENT: undefined }), [`CLEF_AGENT_VCS_ENVIRONMENT: is not set, but the VCS group needs it; ${REQUIRED}`]));
  test('CLEF_AGENT_VCS_REF: alone starts a group and lists all five required variables', () =>
    void refuseWith(env({ CLEF_AGENT_SOURCE: undefined, CLEF_AGENT_VCS_REF: 'main' }), [
      `CLEF_AGENT_VCS_PROVIDER, CLEF_AGENT_VCS_REPO, CLEF_AGENT_VCS_TOKEN, CLEF_AGENT_VCS_IDENTITY, CLEF_AGENT_VCS_ENVIRONMENT: are not set, but the VCS group needs them; ${REQUIRED}`,
    ]));
  test('CLEF_AGENT_VCS_*: a partial group also reports bad values it has', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_TOKEN: undefined, CLEF_AGENT_VCS_PROVIDER: 'svn' }), [
      `CLEF_AGENT_VCS_TOKEN: is not set, but the VCS group needs it; ${REQUIRED}`,
      'CLEF_AGENT_VCS_PROVIDER: "svn" is not a valid VCS provider; expected one of github, gitlab, bitbucket',
    ]));
  for (const provider of ['github', 'gitlab', 'bitbucket', 'GitHub']) {
    test(`CLEF_AGENT_VCS_PROVIDER: accepts ${provider}`, () => assert.equal(load(vcs({ CLEF_AGENT_VCS_PROVIDER: provider })).source.kind, 'vcs'));
  }
  test('CLEF_AGENT_VCS_PROVIDER: rejects an unknown provider', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_PROVIDER: 'svn' }), [
      'CLEF_AGENT_VCS_PROVIDER: "svn" is not a valid VCS provider; expected one of github, gitlab, bitbucket',
    ]));
  test('CLEF_AGENT_VCS_REPO: rejects a repo without an owner', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_REPO: 'secrets' }), [
      `CLEF_AGENT_VCS_REPO: "secrets" is not a valid repository path; expected owner/repo (letters, digits, '.', '_' and '-')`,
    ]));
  test('CLEF_AGENT_VCS_REPO: rejects a nested path for GitHub', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_REPO: 'acme/team/secrets' }), [
      `CLEF_AGENT_VCS_REPO: "acme/team/secrets" is not a valid repository path; expected owner/repo (letters, digits, '.', '_' and '-')`,
    ]));
  test('CLEF_AGENT_VCS_REPO: accepts a nested project path for GitLab', () =>
    assert.equal(load(vcs({ CLEF_AGENT_VCS_PROVIDER: 'gitlab', CLEF_AGENT_VCS_REPO: 'acme/platform/secrets' })).vcs?.repo, 'acme/platform/secrets'));
  test('CLEF_AGENT_VCS_REPO: rejects a single segment for GitLab', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_PROVIDER: 'gitlab', CLEF_AGENT_VCS_REPO: 'secrets' }), [
      'CLEF_AGENT_VCS_REPO: "secrets" is not a valid repository path; expected a GitLab project path such as group/project or group/subgroup/project',
    ]));
  test('CLEF_AGENT_VCS_REPO: rejects dot-dot segments', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_REPO: '../secrets' }), [
      `CLEF_AGENT_VCS_REPO: "../secrets" is not a valid repository path; expected owner/repo (letters, digits, '.', '_' and '-')`,
    ]));
  test('CLEF_AGENT_VCS_TOKEN: rejects an empty token', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_TOKEN: '' }), [
      "CLEF_AGENT_VCS_TOKEN: is empty; expected the provider's API token (visible ASCII characters, no spaces)",
    ]));
  test('CLEF_AGENT_VCS_TOKEN: rejects a token with a space, without echoing it', () => {
    const err = refuseWith(vcs({ CLEF_AGENT_VCS_TOKEN: 'ghp_SECRETVALUE 123' }), [
      "CLEF_AGENT_VCS_TOKEN: contains a space, a control character or a non-ASCII character; expected the provider's API token (visible ASCII characters, no spaces)",
    ]);
    assert.ok(!err.message.includes('SECRETVALUE'));
  });
  test('CLEF_AGENT_VCS_IDENTITY: rejects a path-like identity', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_IDENTITY: '../etc' }), [`CLEF_AGENT_VCS_IDENTITY: "../etc" is not a valid name; ${NAME_EXPECTED}`]));
  test('CLEF_AGENT_VCS_IDENTITY: rejects an empty value', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_IDENTITY: '' }), [`CLEF_AGENT_VCS_IDENTITY: is empty; ${NAME_EXPECTED}`]));
  test('CLEF_AGENT_VCS_ENVIRONMENT: rejects a slash', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_ENVIRONMENT: 'prod/eu' }), [`CLEF_AGENT_VCS_ENVIRONMENT: "prod/eu" is not a valid name; ${NAME_EXPECTED}`]));
  test('CLEF_AGENT_VCS_REF: accepts a branch, tag or sha', () => {
    for (const ref of ['main', 'release/2.1', 'v1.2.3', '3f786850e387550fdab836ed7e6dc881de23001b'])
      assert.equal(load(vcs({ CLEF_AGENT_VCS_REF: ref })).vcs?.ref, ref);
  });
  test('CLEF_AGENT_VCS_REF: rejects an option-like ref', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_REF: '--upload-pack=x' }), [
      'CLEF_AGENT_VCS_REF: "--upload-pack=x" is not a valid git ref; expected a branch, tag or commit name (no spaces, not starting with "-", no "..")',
    ]));
  test('CLEF_AGENT_VCS_REF: rejects an empty value', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_REF: '' }), [
      'CLEF_AGENT_VCS_REF: is empty; expected a branch, tag or commit name (no spaces, not starting with "-", no "..")',
    ]));
  test('CLEF_AGENT_VCS_API_URL: rejects a value that is not a URL', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_API_URL: 'gitlab.example.com' }), [
      'CLEF_AGENT_VCS_API_URL: is not a valid URL; expected an http:// or https:// URL',
    ]));
  test('CLEF_AGENT_VCS_API_URL: refuses plain http to a remote host (it carries the token)', () =>
    void refuseWith(vcs({ CLEF_AGENT_VCS_API_URL: 'http://git.internal/api/v4' }), [
      'CLEF_AGENT_VCS_API_URL: "http://git.internal/api/v4" uses plain http to a non-loopback host, which would send the VCS token unencrypted; expected an https:// URL, or CLEF_AGENT_ALLOW_HTTP=true',
    ]));
  test('CLEF_AGENT_VCS_API_URL: plain http is allowed with CLEF_AGENT_ALLOW_HTTP=true', () =>
    assert.equal(load(vcs({ CLEF_AGENT_VCS_API_URL: 'http://git.internal/api/v4', CLEF_AGENT_ALLOW_HTTP: 'true' })).source.kind, 'vcs'));
  test('CLEF_AGENT_EXPECT_IDENTITY: must agree with CLEF_AGENT_VCS_IDENTITY', () =>
    void refuseWith(vcs({ CLEF_AGENT_EXPECT_IDENTITY: 'web', CLEF_AGENT_EXPECT_ENVIRONMENT: 'production' }), [
      'CLEF_AGENT_EXPECT_IDENTITY: "web" differs from CLEF_AGENT_VCS_IDENTITY ("api-gateway"); expected the same identity, or unset',
    ]));
  test('CLEF_AGENT_EXPECT_ENVIRONMENT: must agree with CLEF_AGENT_VCS_ENVIRONMENT', () =>
    void refuseWith(vcs({ CLEF_AGENT_EXPECT_ENVIRONMENT: 'staging' }), [
      'CLEF_AGENT_EXPECT_ENVIRONMENT: "staging" differs from CLEF_AGENT_VCS_ENVIRONMENT ("production"); expected the same environment, or unset',
    ]));
});

describe('plain http sources (CLEF_AGENT_ALLOW_HTTP rule)', () => {
  const verifyKey = (): string => generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
  const withCredentials = (url: string) =>
    `CLEF_AGENT_SOURCE: "${url}" uses plain http to a non-loopback host, which would send its credentials (user:password or a signed query) unencrypted; expected an https:// URL, or CLEF_AGENT_ALLOW_HTTP=true (a verify key protects the artifact, not the credentials)`;
  const refused = (url: string) =>
    `CLEF_AGENT_SOURCE: "${url}" uses plain http to a non-loopback host; expected an https:// URL, or CLEF_AGENT_VERIFY_KEY set so the artifact is authenticated, or CLEF_AGENT_ALLOW_HTTP=true`;
  test('CLEF_AGENT_SOURCE: refuses http to a remote host, explaining both remedies', () =>
    void refuseWith(env({ CLEF_AGENT_SOURCE: 'http://artifacts.internal/app.json' }), [refused('http://artifacts.internal/app.json')]));
  test('CLEF_AGENT_SOURCE: the refusal masks credentials', () =>
    void refuseWith(env({ CLEF_AGENT_SOURCE: 'http://u:pw@10.0.0.5/a.json?sig=x' }), [withCredentials('http://***@10.0.0.5/a.json?***')]));
  for (const url of [
    'http://127.0.0.1:8080/a.json',
    'http://127.8.9.10/a.json',
    'http://localhost/a.json',
    'http://[::1]:9000/a.json',
    'http://127.1/a.json',
  ]) {
    test(`CLEF_AGENT_SOURCE: allows http to loopback (${url})`, () => assert.equal(load(env({ CLEF_AGENT_SOURCE: url })).source.kind, 'http'));
  }
  test('CLEF_AGENT_SOURCE: does not treat localhost look-alikes as loopback', () => {
    refuse(env({ CLEF_AGENT_SOURCE: 'http://localhost.evil.example/a.json' }));
    refuse(env({ CLEF_AGENT_SOURCE: 'http://128.0.0.1/a.json' }));
  });
  test('CLEF_AGENT_ALLOW_HTTP: true allows http to a remote host', () =>
    assert.equal(load(env({ CLEF_AGENT_SOURCE: 'http://artifacts.internal/a.json', CLEF_AGENT_ALLOW_HTTP: 'true' })).allowHttp, true));
  test('CLEF_AGENT_ALLOW_HTTP: false keeps the refusal', () =>
    void refuseWith(env({ CLEF_AGENT_SOURCE: 'http://artifacts.internal/a.json', CLEF_AGENT_ALLOW_HTTP: 'false' }), [
      refused('http://artifacts.internal/a.json'),
    ]));
  test('CLEF_AGENT_VERIFY_KEY: set allows http to a remote host', () => {
    const der = generateKeyPairSync('ed25519').publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    assert.equal(load(env({ CLEF_AGENT_SOURCE: 'http://artifacts.internal/a.json', CLEF_AGENT_VERIFY_KEY: der })).verifyKeyType, 'ed25519');
  });
  test('CLEF_AGENT_VERIFY_KEY: set allows http to a remote host with a query that carries no credential', () =>
    assert.equal(load(env({ CLEF_AGENT_SOURCE: 'http://artifacts.internal/a.json?v=2&ref=main', CLEF_AGENT_VERIFY_KEY: verifyKey() })).source.kind, 'http'));
  for (const url of [
    'http://deploy:pw@artifacts.internal/a.json',
    'http://deploy@artifacts.internal/a.json',
    'http://artifacts.internal/a.json?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20260101&X-Amz-Signature=abc',
    'http://artifacts.internal/a.json?x-amz-signature=abc',
    'http://artifacts.internal/a.json?X-AMZ-SECURITY-TOKEN=abc',
    'http://artifacts.internal/a.json?AWSAccessKeyId=AKID&Signature=abc&Expires=1',
    'http://artifacts.internal/a.json?X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential=sa&X-Goog-Signature=abc',
    'http://artifacts.internal/a.json?GoogleAccessId=sa&Signature=abc',
    'http://artifacts.internal/a.json?sv=2024-01-01&sp=r&sig=abc',
    'http://artifacts.internal/a.json?access_token=abc',
    'http://artifacts.internal/a.json?private_token=abc',
    'http://artifacts.internal/a.json?token=abc',
  ]) {
    test(`CLEF_AGENT_VERIFY_KEY does not lift the rule for credentials in the URL: ${url.slice(7, 70)}`, () => {
      const shown = url.replace(/\/\/[^@/]*@/, '//***@').replace(/\?.*$/, (q) => (q === '' ? '' : '?***'));
      refuseWith(env({ CLEF_AGENT_SOURCE: url, CLEF_AGENT_VERIFY_KEY: verifyKey() }), [withCredentials(shown)]);
      assert.equal(load(env({ CLEF_AGENT_SOURCE: url, CLEF_AGENT_VERIFY_KEY: verifyKey(), CLEF_AGENT_ALLOW_HTTP: 'true' })).source.kind, 'http');
    });
  }
  test('credentials over http to loopback need nothing', () =>
    assert.equal(load(env({ CLEF_AGENT_SOURCE: 'http://u:pw@127.0.0.1:8080/a.json?X-Amz-Signature=abc' })).source.kind, 'http'));
  test('an S3 URL written with http:// is signed: plain http needs CLEF_AGENT_ALLOW_HTTP, a verify key does not lift it', () => {
    const e = { CLEF_AGENT_SOURCE: 'http://bkt.s3.eu-west-1.amazonaws.com/a.json', CLEF_AGENT_VERIFY_KEY: verifyKey() };
    refuseWith(env(e), [
      'CLEF_AGENT_SOURCE: "http://bkt.s3.eu-west-1.amazonaws.com/a.json" uses plain http to a non-loopback host, which would send the signed S3 request and the AWS session token unencrypted; expected an https:// URL, or CLEF_AGENT_ALLOW_HTTP=true',
    ]);
    assert.equal(load(env({ ...e, CLEF_AGENT_ALLOW_HTTP: 'true' })).source.kind, 's3');
    // Under an endpoint, the request goes there: the endpoint's own rule applies instead.
    assert.equal(load(env({ ...e, AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9000' })).source.kind, 's3');
  });
  test('CLEF_AGENT_VCS_API_URL: a verify key does not lift the rule (the VCS token)', () =>
    void refuseWith(
      env({
        CLEF_AGENT_SOURCE: undefined,
        CLEF_AGENT_VCS_PROVIDER: 'gitlab',
        CLEF_AGENT_VCS_REPO: 'group/project',
        CLEF_AGENT_VCS_TOKEN: 'glpat-token',
        CLEF_AGENT_VCS_IDENTITY: 'api',
        CLEF_AGENT_VCS_ENVIRONMENT: 'production',
        CLEF_AGENT_VCS_API_URL: 'http://git.internal/api/v4',
        CLEF_AGENT_VERIFY_KEY: verifyKey(),
      }),
      [
        'CLEF_AGENT_VCS_API_URL: "http://git.internal/api/v4" uses plain http to a non-loopback host, which would send the VCS token unencrypted; expected an https:// URL, or CLEF_AGENT_ALLOW_HTTP=true',
      ],
    ));
});
