/**
 * Where the artifact comes from (SPEC §3): `CLEF_AGENT_SOURCE` or the `CLEF_AGENT_VCS_*` group,
 * exactly one of them. Nothing is fetched or read here; the first load checks reachability.
 */
import { fileURLToPath } from 'node:url';
import type { SourceSpec } from '../../common/protocol.js';
import { refuse, type Issues } from './errors.js';
import { isPlainRemoteHttp } from '../../common/net.js';
import { awsEndpointProblems } from '../../common/aws-endpoints.js';
import { urlCarriesCredentials } from '../../common/url-credentials.js';
import { httpUrl, isHeaderSafe, oneOf, pathValue, read, text, type Env } from './parse.js';
import { maskUrl, quote } from '../../common/display.js';
import { isPresigned, parseS3Https, parseS3Url, S3_HOST } from './s3.js';
import type { VcsConfig } from './types.js';
import { MAX_NAME_LENGTH, VARIABLES, VCS_DEFAULT_API } from './variables.js';

const V = VARIABLES;
const SOURCE = V.source.name;
const SOURCE_EXPECTED = 'a file path, an http(s):// URL or an S3 URL (s3://bucket/key)';

export const VCS_REQUIRED = [V.vcsProvider.name, V.vcsRepo.name, V.vcsToken.name, V.vcsIdentity.name, V.vcsEnvironment.name] as const;
export const VCS_OPTIONAL = [V.vcsRef.name, V.vcsApiUrl.name] as const;
const VCS_ALL: readonly string[] = [...VCS_REQUIRED, ...VCS_OPTIONAL];

export interface SourceResult {
  readonly source?: SourceSpec | undefined;
  readonly label?: string | undefined;
  /** Present only for a complete VCS group whose every value is valid. */
  readonly vcs?: VcsConfig | undefined;
  /** URLs subject to the plain-http rule (checked once ALLOW_HTTP and VERIFY_KEY are known). */
  readonly sourceUrl?: URL | undefined;
  readonly vcsApiUrl?: URL | undefined;
  /** An S3 source's request URL when it comes from the source itself (not AWS_ENDPOINT_URL_S3). */
  readonly s3SignedUrl?: URL | undefined;
}

/**
 * Parses CLEF_AGENT_SOURCE. Anything starting with `scheme:` is treated as a URL, so a relative file
 * whose name contains a colon must be written `./name:with:colons`. `file://` URLs are accepted as
 * file paths (operators paste them from other tools); only a local one (no host) is meaningful.
 */
export function parseSource(raw: string, cwd: string, env: Env = {}): SourceResult {
  if (raw === '') refuse(SOURCE, 'is empty', SOURCE_EXPECTED);
  const scheme = /^([a-z][a-z0-9+.-]+):/i.exec(raw)?.[1]?.toLowerCase();
  if (scheme === undefined) {
    const path = pathValue(SOURCE, raw, cwd, SOURCE_EXPECTED);
    return { source: { kind: 'file', path }, label: path };
  }
  if (scheme === 'http' || scheme === 'https') {
    const url = httpUrl(SOURCE, raw, SOURCE_EXPECTED);
    const label = maskUrl(url);
    if (S3_HOST.test(url.hostname) && !isPresigned(url) && url.username === '' && url.password === '') {
      const s3 = parseS3Https(url, env);
      return { source: s3.source, label: s3.label, s3SignedUrl: s3.viaEndpoint ? undefined : url };
    }
    return { source: { kind: 'http', url: url.href }, label, sourceUrl: url };
  }
  if (scheme === 's3') {
    let url: URL;
    try {
      url = new URL(raw);
    } catch {
      // Unparsable: not echoed (it cannot be masked).
      return refuse(SOURCE, 'is not a valid s3:// URL', 's3://bucket/key');
    }
    const s3 = parseS3Url(url, env);
    return { source: s3.source, label: s3.label };
  }
  if (scheme === 'file') {
    let path: string;
    try {
      path = fileURLToPath(new URL(raw));
    } catch {
      return refuse(SOURCE, 'is not a local file:// URL', 'file:///absolute/path, a file path or an http(s):// URL');
    }
    return { source: { kind: 'file', path }, label: path };
  }
  return refuse(SOURCE, `uses the unsupported scheme ${quote(`${scheme}:`)}`, 'a file path, an http(s):// URL, an s3:// URL or a file:// URL');
}

/** Exactly one of CLEF_AGENT_SOURCE or the VCS group. Returns undefined when an issue was recorded. */
export function resolveSource(env: Env, cwd: string, issues: Issues): SourceResult | undefined {
  const raw = read(env, SOURCE);
  const vcsSet = VCS_ALL.filter((n) => read(env, n) !== undefined);
  if (raw !== undefined && vcsSet.length > 0) {
    issues.add(SOURCE, `is set together with ${vcsSet.join(', ')}`, `either ${SOURCE} or the CLEF_AGENT_VCS_* group, not both`);
    issues.run(() => parseSource(raw, cwd, env));
    return undefined;
  }
  if (raw !== undefined) return issues.run(() => parseSource(raw, cwd, env));
  if (vcsSet.length === 0) {
    issues.add(SOURCE, 'is not set', `${SOURCE} (${SOURCE_EXPECTED}) or the VCS group ${VCS_REQUIRED.join(', ')}`);
    return undefined;
  }
  return resolveVcs(env, issues);
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NAME_EXPECTED = "a name of letters, digits, '.', '_' and '-' starting with a letter or digit (at most 128 characters)";
const SEGMENT = /^[A-Za-z0-9_.-]+$/;

/** Identity and environment become path segments (`.clef/packed/<identity>/<environment>.age.json`). */
function vcsName(name: string, raw: string): string {
  if (raw === '') refuse(name, 'is empty', NAME_EXPECTED);
  if (!NAME.test(raw)) refuse(name, `${quote(raw)} is not a valid name`, NAME_EXPECTED);
  return raw;
}

function vcsRepo(name: string, raw: string, provider: VcsConfig['provider'] | undefined): string {
  const gitlab = provider === 'gitlab';
  const expected = gitlab ? 'a GitLab project path such as group/project or group/subgroup/project' : "owner/repo (letters, digits, '.', '_' and '-')";
  if (raw === '') refuse(name, 'is empty', expected);
  const parts = raw.split('/');
  const segmentsOk = parts.every((p) => SEGMENT.test(p) && p !== '.' && p !== '..');
  const countOk = gitlab || provider === undefined ? parts.length >= 2 : parts.length === 2;
  if (!segmentsOk || !countOk || raw.length > 512) refuse(name, `${quote(raw)} is not a valid repository path`, expected);
  return raw;
}

function vcsToken(name: string, raw: string): string {
  const expected = "the provider's API token (visible ASCII characters, no spaces)";
  // Secret: the value is never quoted.
  if (raw === '') refuse(name, 'is empty', expected);
  if (!isHeaderSafe(raw)) refuse(name, 'contains a space, a control character or a non-ASCII character', expected);
  return raw;
}

function vcsRef(name: string, raw: string): string {
  const expected = 'a branch, tag or commit name (no spaces, not starting with "-", no "..")';
  text(name, raw, MAX_NAME_LENGTH, expected);
  if (!isHeaderSafe(raw) || raw.startsWith('-') || raw.includes('..')) refuse(name, `${quote(raw)} is not a valid git ref`, expected);
  return raw;
}

/** The VCS group: one line naming every missing variable, then each present value validated. */
function resolveVcs(env: Env, issues: Issues): SourceResult | undefined {
  const before = issues.count;
  const missing = VCS_REQUIRED.filter((n) => read(env, n) === undefined);
  const [firstMissing] = missing;
  if (firstMissing !== undefined) {
    const verb = missing.length === 1 ? 'is not set, but the VCS group needs it' : 'are not set, but the VCS group needs them';
    issues.addLine(
      firstMissing,
      `${missing.join(', ')}: ${verb}; expected ${VCS_REQUIRED.join(', ')} set together (${VCS_OPTIONAL.join(' and ')} are optional)`,
    );
  }
  const value = <T>(name: string, parse: (name: string, raw: string) => T): T | undefined => {
    const raw = read(env, name);
    return raw === undefined ? undefined : issues.run(() => parse(name, raw));
  };
  const providers = ['github', 'gitlab', 'bitbucket'] as const;
  const provider = value(V.vcsProvider.name, (n, r) => oneOf(n, r, providers, 'VCS provider'));
  const repo = value(V.vcsRepo.name, (n, r) => vcsRepo(n, r, provider));
  const token = value(V.vcsToken.name, vcsToken);
  const identity = value(V.vcsIdentity.name, vcsName);
  const environment = value(V.vcsEnvironment.name, vcsName);
  const ref = value(V.vcsRef.name, vcsRef);
  const apiUrl = value(V.vcsApiUrl.name, (n, r) => httpUrl(n, r));
  if (issues.count !== before) return undefined;
  if (provider === undefined || repo === undefined || token === undefined || identity === undefined || environment === undefined) return undefined;
  const vcs: VcsConfig = { provider, repo, token, identity, environment, ref, apiUrl: apiUrl?.href };
  // Query and userinfo are not part of an API base; fetchers append paths to origin + path.
  const api = apiUrl === undefined ? VCS_DEFAULT_API[provider] : `${apiUrl.origin}${apiUrl.pathname.replace(/\/+$/, '')}`;
  const path = `.clef/packed/${identity}/${environment}.age.json`;
  const label = `${provider}:${repo}/${path}@${ref ?? 'default branch'}${apiUrl === undefined ? '' : ` via ${maskUrl(apiUrl)}`}`;
  return { vcs, vcsApiUrl: apiUrl, label, source: { kind: 'vcs', provider, repo, token, path, ref, apiUrl: api } };
}

/**
 * The plain-http rule (SPEC §3). A source over http to a non-loopback host is refused unless the
 * artifact is authenticated by a verify key or the operator opted in with ALLOW_HTTP. Credentials
 * are another matter: a verify key protects the artifact, not them, so only ALLOW_HTTP lifts the
 * rule for a URL that carries its own (userinfo, a signed query), for an S3 URL the agent signs,
 * and for the VCS API URL, which carries the VCS token.
 */
export function checkPlainHttp(result: SourceResult, opts: { readonly allowHttp: boolean; readonly verifyKeySet: boolean }, issues: Issues): void {
  const { allowHttp, verifyKeySet } = opts;
  const plain = (u: URL | undefined): u is URL => u !== undefined && isPlainRemoteHttp(u);
  if (plain(result.sourceUrl) && !allowHttp) {
    if (urlCarriesCredentials(result.sourceUrl)) {
      issues.add(
        SOURCE,
        `${quote(maskUrl(result.sourceUrl), 120)} uses plain http to a non-loopback host, which would send its credentials (user:password or a signed query) unencrypted`,
        `an https:// URL, or ${V.allowHttp.name}=true (a verify key protects the artifact, not the credentials)`,
      );
    } else if (!verifyKeySet) {
      issues.add(
        SOURCE,
        `${quote(maskUrl(result.sourceUrl), 120)} uses plain http to a non-loopback host`,
        `an https:// URL, or ${V.verifyKey.name} set so the artifact is authenticated, or ${V.allowHttp.name}=true`,
      );
    }
  }
  if (plain(result.s3SignedUrl) && !allowHttp) {
    issues.add(
      SOURCE,
      `${quote(maskUrl(result.s3SignedUrl), 120)} uses plain http to a non-loopback host, which would send the signed S3 request and the AWS session token unencrypted`,
      `an https:// URL, or ${V.allowHttp.name}=true`,
    );
  }
  if (plain(result.vcsApiUrl) && !allowHttp) {
    issues.add(
      V.vcsApiUrl.name,
      `${quote(maskUrl(result.vcsApiUrl), 120)} uses plain http to a non-loopback host, which would send the VCS token unencrypted`,
      `an https:// URL, or ${V.allowHttp.name}=true`,
    );
  }
}

/**
 * The AWS endpoint variables (SPEC §3), whatever the source: KMS and STS are called for envelope
 * artifacts and credentials of any source, so the rule does not wait for an S3 source.
 */
export function checkAwsEndpoints(env: Env, allowHttp: boolean | undefined, issues: Issues): void {
  for (const p of awsEndpointProblems(env, allowHttp)) issues.add(p.variable, p.problem, p.expected);
}
