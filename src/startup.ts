import type { LoadResult } from '../common/protocol.js';

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
    case 'too_large':
      return 'raise CLEF_AGENT_MAX_ARTIFACT_BYTES if the artifact is really this large';
    case 'forbidden_redirect':
    case 'forbidden_address':
    case 'insecure_source':
      return 'the source location is refused by the fetch safety rules; use an https URL on the final host';
    case 'decrypt_failed':
    case 'no_key':
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
