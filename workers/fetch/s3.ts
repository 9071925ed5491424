/**
 * S3 sources: a GET signed with SigV4 by the AWS SDK's own signer (@smithy/signature-v4), with
 * credentials from the SDK's default provider chain (environment, SSO, web identity/IRSA, shared
 * config/credentials files and profiles, ECS container credentials, EC2 instance metadata). The
 * signed request then goes through the same fetch policy as every other source (policy.ts), so
 * timeouts, the size cap, retries, redirect rules and HTTPS_PROXY/NO_PROXY apply unchanged.
 *
 * The object's ETag is the change marker: S3 answers a matching `If-None-Match` with 304. That
 * header is added after signing (it is not part of the signed headers), which S3 accepts.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import type { FetchPolicy, S3SourceSpec, TaskFailure } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import { maskUrl } from '../../common/display.js';
import { fetchWithPolicy, type HttpDeps } from './policy.js';
import { proxyAgents } from '../../common/proxy-rules.js';
import { CREDENTIAL_EXCHANGE_LIMITS as EXCHANGE_LIMITS } from '../../common/limits.js';
import type { FetchOutcome } from './types.js';

export interface AwsCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string | undefined;
}
export type CredentialSource = () => Promise<AwsCredentials>;

export interface S3Deps extends HttpDeps {
  /** Tests inject a provider; production uses the SDK default chain. */
  readonly credentials?: CredentialSource | undefined;
}

// One memoized chain per worker: it caches credentials and refreshes them before they expire.
let chain: CredentialSource | undefined;

/**
 * The SDK's default chain. Its token exchanges (web identity → STS `AssumeRoleWithWebIdentity`,
 * SSO) run in SDK clients of their own, which take their request handler from the parent client's
 * config; this fetch path has no SDK client, so it hands them one with the agent's proxy rules
 * (HTTPS_PROXY/NO_PROXY, as for KMS calls) and bounds. Without it an IRSA pod behind an egress
 * proxy could not reach STS. Throws ProxyConfigError for an unusable proxy variable.
 */
function credentialChain(): CredentialSource {
  return defaultProvider({
    parentClientConfig: {
      requestHandler: {
        connectionTimeout: EXCHANGE_LIMITS.connectionTimeoutMs,
        requestTimeout: EXCHANGE_LIMITS.requestTimeoutMs,
        throwOnRequestTimeout: true,
        ...proxyAgents(EXCHANGE_LIMITS.connectionTimeoutMs),
      },
    },
  });
}

export async function fetchS3(source: S3SourceSpec, policy: FetchPolicy, marker: string | undefined, deps: S3Deps = {}): Promise<FetchOutcome | TaskFailure> {
  let url: URL;
  try {
    url = new URL(source.url);
  } catch {
    return taskFailure('fetch_failed', 'the S3 request URL cannot be parsed');
  }
  const shown = maskUrl(url);
  let credentials: AwsCredentials;
  try {
    credentials = await (deps.credentials ?? (chain ??= credentialChain()))();
  } catch (err) {
    // SDK provider errors name the providers tried, never secret values; keep only a short slice.
    const why = err instanceof Error ? `${err.name}: ${err.message.split('\n')[0]?.slice(0, 200) ?? ''}` : 'unknown error';
    return taskFailure('credentials_unavailable', `${shown}: no AWS credentials from the default provider chain (${why})`);
  }
  const headers = await signGet(url, source.region, credentials);
  return fetchWithPolicy({ url, headers, httpHint: 'an http S3 endpoint needs CLEF_AGENT_ALLOW_HTTP=true unless it is loopback' }, policy, marker, deps);
}

/**
 * The SigV4 headers for a GET of `url` (`authorization`, `x-amz-date`, `x-amz-content-sha256`,
 * `x-amz-security-token`). Exported so the test S3 server verifies with the same signer.
 */
async function signGet(url: URL, region: string, credentials: AwsCredentials, signingDate?: Date): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: 's3',
    region,
    credentials,
    sha256: Hash.bind(null, 'sha256'),
    // S3 signs the path as sent (no second encoding), unlike other services.
    uriEscapePath: false,
    applyChecksum: true,
  });
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signed = await signer.sign(
    {
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port === '' ? undefined : Number(url.port),
      path: url.pathname,
      query,
      // fetch sends `host` itself, with the port when it is not the default: sign the same value.
      // `applyChecksum` adds x-amz-content-sha256 (the empty body's hash) to the signed headers.
      headers: { host: url.host },
    },
    signingDate === undefined ? {} : { signingDate },
  );
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) {
    // `host` is set by fetch and cannot be overridden (it is a forbidden header name).
    if (k.toLowerCase() !== 'host') out[k.toLowerCase()] = v;
  }
  return out;
}
