/**
 * The worker's AWS KMS client and the mapping of KMS failures to the agent's failure codes.
 *
 * One client per worker, made on first use: the SDK's default credential chain and region
 * (`AWS_REGION`, env/web-identity/ECS/IMDS credentials) and its own endpoint resolution, which
 * honours `AWS_ENDPOINT_URL_KMS` (then `AWS_ENDPOINT_URL`). Every call is bounded so a slow KMS
 * turns into `kms_unavailable` well inside the JIT request deadline instead of a killed worker.
 * `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` apply by the fetch path's rules (common/proxy-rules.ts).
 *
 * This is the only worker module that imports the KMS client: workers/decrypt/kms.ts loads it on
 * the first KMS artifact, so an age-only agent never pays the SDK's start-up time or memory.
 */
import { DecryptCommand, KMSClient, type EncryptionAlgorithmSpec } from '@aws-sdk/client-kms';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { KMS_LIMITS } from '../../common/limits.js';
import type { TaskFailure } from '../../common/protocol.js';
import { proxyAgents } from '../../common/proxy-rules.js';
import { taskFailure } from '../../common/task-failure.js';
import { errnoCode } from '../../common/display.js';

let client: KMSClient | undefined;

/**
 * Thrown in place of any error from the credential chain (environment, web identity via STS,
 * container endpoint, instance metadata), so a failure to *get* credentials is never reported as
 * KMS refusing the call: an STS `InvalidIdentityToken` otherwise reads as "KMS refused the Decrypt".
 * Exported for tests.
 */
export class CredentialsFailure extends Error {
  override readonly name = 'CredentialsFailure';
  constructor(readonly failure: unknown) {
    super('the AWS credential chain failed');
  }
}

export function kmsClient(): KMSClient {
  client ??= new KMSClient({
    // The SDK's own default chain, called exactly as the client would call it (its config as
    // `parentClientConfig`, so web-identity STS calls use this client's request handler and proxy),
    // with its failures tagged.
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- the SDK types this hook's input as `any`
    credentialDefaultProvider: (input: any) => {
      const chain = defaultProvider(input as Parameters<typeof defaultProvider>[0]);
      return async (props?: Parameters<typeof chain>[0]) => {
        try {
          return await chain(props);
        } catch (err) {
          throw new CredentialsFailure(err);
        }
      };
    },
    maxAttempts: KMS_LIMITS.maxAttempts,
    requestHandler: {
      connectionTimeout: KMS_LIMITS.connectionTimeoutMs,
      requestTimeout: KMS_LIMITS.requestTimeoutMs,
      // Without this the handler only *warns* (on console) when requestTimeout passes.
      throwOnRequestTimeout: true,
      // Tunnelling agents when a proxy variable is set; otherwise the SDK's own agents.
      ...proxyAgents(KMS_LIMITS.connectionTimeoutMs),
    },
  });
  return client;
}

/**
 * One bounded KMS `Decrypt` of a wrapped data key: the plaintext data key (the caller zeroes it),
 * or the failure the error maps to.
 */
export async function kmsDecrypt(wrapped: Uint8Array, keyId: string, algorithm: string): Promise<Uint8Array | TaskFailure> {
  try {
    const out = await kmsClient().send(
      new DecryptCommand({ CiphertextBlob: wrapped, KeyId: keyId, EncryptionAlgorithm: algorithm as EncryptionAlgorithmSpec }),
      // Bounds the whole call, retries and backoff included (the limits above explain the numbers).
      { abortSignal: AbortSignal.timeout(KMS_LIMITS.totalMs) },
    );
    return out.Plaintext ?? taskFailure('decrypt_failed', 'KMS Decrypt answered without a Plaintext data key');
  } catch (err) {
    return classifyKmsError(err);
  }
}

/**
 * KMS refused this caller or this key: retrying cannot help, and the SDK does not retry these
 * (none is a throttling or transient error), so a denial surfaces on the very call it happened.
 * Credential problems count: the pod's identity is what KMS judges.
 */
const DENIED: ReadonlySet<string> = new Set([
  'AccessDeniedException',
  'DisabledException',
  'KMSInvalidStateException',
  'NotFoundException',
  'InvalidKeyUsageException',
  'InvalidGrantTokenException',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'IncompleteSignatureException',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'MissingAuthenticationTokenException',
  'CredentialsProviderError',
]);

/** The wrapped key itself is wrong (tampered, or wrapped under another key): the artifact is bad. */
const BAD_CIPHERTEXT: ReadonlySet<string> = new Set(['InvalidCiphertextException', 'IncorrectKeyException']);

/** Transient: throttling, KMS-side faults, timeouts. Network errors and 5xx are caught below. */
const UNAVAILABLE: ReadonlySet<string> = new Set([
  'ThrottlingException',
  'LimitExceededException',
  'KMSInternalException',
  'DependencyTimeoutException',
  'KeyUnavailableException',
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeoutException',
  'ServiceUnavailableException',
  'InternalFailure',
]);

/** Errors reaching STS or a metadata endpoint: transient, unlike a missing or unreadable file. */
const NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
]);

interface SdkErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: unknown };
}

/**
 * Maps a thrown SDK error to a failure. The message names the exception and quotes a short,
 * sanitised part of KMS's own message (key and role ARNs help the operator; KMS never echoes the
 * ciphertext or a key). Non-AWS errors are reported by name/errno only.
 */
export function classifyKmsError(err: unknown): TaskFailure {
  if (err instanceof CredentialsFailure) return classifyCredentialsError(err.failure);
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorLike;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const awsMessage = status !== undefined && typeof e.message === 'string' ? `: ${sanitise(e.message)}` : '';
  const what = `${name}${status !== undefined ? `, HTTP ${status}` : ''}`;
  if (BAD_CIPHERTEXT.has(name)) {
    return taskFailure(
      'decrypt_failed',
      `KMS could not unwrap envelope.wrappedKey (${what})${awsMessage}: the artifact is corrupted or was sealed under another key`,
    );
  }
  if (DENIED.has(name)) return taskFailure('kms_denied', `KMS Decrypt denied (${what})${awsMessage}`);
  if (UNAVAILABLE.has(name) || (status !== undefined && status >= 500)) {
    return taskFailure('kms_unavailable', `KMS is unavailable (${what})${awsMessage}`);
  }
  if (status !== undefined) {
    // Any other 4xx: KMS refused the request for a reason we do not know to be transient.
    return taskFailure('kms_denied', `KMS refused the Decrypt request (${what})${awsMessage}`);
  }
  // Composed by common/proxy-rules.ts from a variable name, or a host and a status.
  if (name === 'ProxyConfigError' && typeof e.message === 'string') return taskFailure('kms_unavailable', `KMS cannot be called: ${e.message}`);
  if (name === 'ProxyTunnelError' && typeof e.message === 'string') return taskFailure('kms_unavailable', `KMS could not be reached: ${e.message}`);
  if (typeof e.message === 'string' && /region is missing/i.test(e.message)) {
    return taskFailure('kms_unavailable', 'KMS cannot be called: no AWS region is configured (set AWS_REGION)');
  }
  const code = errnoCode(err);
  return taskFailure('kms_unavailable', `KMS could not be reached (${name}${code !== undefined ? ` ${code}` : ''})`);
}

/**
 * The credential chain failed, so KMS was never called: `credentials_denied`, or
 * `credentials_unreachable` when STS or a metadata endpoint could not answer (requests still get
 * the KMS reasons, common/failures.ts). The message names the chain and what refused: STS's own
 * message for a refused web identity, the SDK's provider summary when nothing was found.
 */
function classifyCredentialsError(err: unknown): TaskFailure {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorLike;
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const status = typeof e.$metadata?.httpStatusCode === 'number' ? e.$metadata.httpStatusCode : undefined;
  const code = errnoCode(err);
  // A file the chain could not read (the web identity token file, a shared config file): its path
  // comes from the environment and is not secret, and it is what the operator must fix.
  const path = code !== undefined && typeof (err as { path?: unknown }).path === 'string' ? ` reading ${(err as { path: string }).path}` : '';
  const what = `${name}${status !== undefined ? `, HTTP ${status}` : ''}${code !== undefined ? ` ${code}${path}` : ''}`;
  // AWS services' messages and the SDK's provider summaries name providers, roles and endpoints,
  // never credentials; other errors are reported by name only.
  const quoted =
    (status !== undefined || name === 'CredentialsProviderError') && typeof e.message === 'string' ? `: ${sanitise(e.message.split('\n')[0] ?? '')}` : '';
  const transient =
    UNAVAILABLE.has(name) ||
    name === 'IDPCommunicationErrorException' ||
    (status !== undefined && status >= 500) ||
    (code !== undefined && NETWORK_CODES.has(code));
  return taskFailure(transient ? 'credentials_unreachable' : 'credentials_denied', `AWS credentials could not be obtained (${what})${quoted}`);
}

function sanitise(message: string): string {
  // eslint-disable-next-line no-control-regex
  const s = message.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim();
  return s.length > 240 ? `${s.slice(0, 240)}…` : s;
}
