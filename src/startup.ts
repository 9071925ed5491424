import { CREDENTIALS_FAILED, type LoadResult } from '../common/protocol.js';

/** A start-up failure: the process exits non-zero with this message (never a secret). */
export class StartupError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode = 1) {
    super(message);
    this.name = 'StartupError';
    this.exitCode = exitCode;
  }
}

/** The hint for a first load that failed every attempt (SPEC §4.2). */
export function startupHint(r: LoadResult): string {
  if (r.ok) return r.outcome === 'revoked' ? 'the artifact is revoked (revokedAt is set); publish a new artifact to end the revocation' : '';
  switch (r.code) {
    case 'fetch_status':
      if (r.status === 401 || r.status === 403) return 'access denied: check the credentials or token the source needs and that they grant read access';
      if (r.status === 404)
        return 'not found: the artifact is not packed yet, or the credentials have no access (some hosts, e.g. GitHub, answer 404 for both)';
      return 'the source answered an error status; check the source URL and the server';
    case 'fetch_failed':
    case 'fetch_timeout':
      return 'network: the source could not be reached; check the address, DNS, proxy settings (HTTPS_PROXY/NO_PROXY) and firewall';
    case 'source_unreadable':
      return 'the artifact file could not be read; check the path and its permissions';
    case 'credentials_unavailable':
      return 'no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a web identity (IRSA) or run with an ECS task role / EC2 instance profile';
    case 'too_large':
      return 'raise CLEF_AGENT_MAX_ARTIFACT_BYTES if the artifact is really this large';
    case 'forbidden_redirect':
    case 'forbidden_address':
    case 'insecure_source':
      return 'the source location is refused by the fetch safety rules; use an https URL on the final host';
    case 'no_key':
      return 'this is an age artifact and no age key is configured: set CLEF_AGENT_AGE_KEY or CLEF_AGENT_AGE_KEY_FILE (KMS envelope artifacts need none)';
    case 'kms_denied':
      if (r.message.startsWith(CREDENTIALS_FAILED)) {
        return 'AWS credentials: for a web identity (IRSA) check AWS_ROLE_ARN, the token file and the role’s trust policy for this service account; otherwise set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or run with an ECS task role / EC2 instance profile';
      }
      return 'KMS denied the data key: check that the IAM role has kms:Decrypt on the envelope keyId and that the key is enabled';
    case 'kms_unavailable':
      if (r.message.startsWith(CREDENTIALS_FAILED)) {
        return 'AWS credentials could not be fetched: check network access to STS (or AWS_ENDPOINT_URL_STS) and to the container or instance metadata endpoint, and the proxy settings';
      }
      return 'KMS could not be reached: check AWS_REGION (or AWS_ENDPOINT_URL_KMS), network access to KMS and the proxy settings';
    case 'unsupported_encryption':
      return 'the artifact uses an encryption this agent does not support (KMS envelopes: provider "aws" only)';
    case 'decrypt_failed':
    case 'key_invalid':
    case 'key_unreadable':
      return 'decryption: check that the age key (CLEF_AGENT_AGE_KEY or CLEF_AGENT_AGE_KEY_FILE) matches the recipient the artifact was packed for';
    case 'signature_missing':
    case 'signature_invalid':
      return 'signature: check CLEF_AGENT_VERIFY_KEY matches the key the artifact was signed with, and that the artifact was signed';
    case 'identity_mismatch':
      return 'the artifact names another identity or environment than CLEF_AGENT_EXPECT_IDENTITY/CLEF_AGENT_EXPECT_ENVIRONMENT';
    case 'expired':
      return 'the artifact is past its expiresAt; pack a fresh one';
    default:
      return 'the artifact was rejected; see the message';
  }
}
