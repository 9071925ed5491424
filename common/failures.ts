/**
 * Every failure code a task can end with, defined once: what kind of failure it is, the API reason
 * a request answers when it fails because of it, whether trying again as is may succeed, and the
 * hint the agent prints when the first load fails with it. Codes are stable strings: logs,
 * `/v1/health` (`lastError.code`) and telemetry report them. The refresher, the start-up hint and
 * JIT mode read this table; nothing else switches on a code's meaning.
 */
import type { Reason } from './reasons.js';

/**
 * - `fetch`: the artifact's bytes never arrived (a refresh logs `fetch.failed`, not `artifact.invalid`).
 * - `validation`: the artifact arrived and was refused (SPEC §4.3).
 * - `decrypt`: the artifact could not be decrypted with the key it was sealed for.
 * - `kms`: KMS refused or could not answer the Decrypt of an envelope artifact's data key.
 * - `credentials`: for an envelope artifact, the AWS credential chain failed, so KMS was never called.
 * - `setup`: the agent's own age key is missing or unusable, or its rollback state file is.
 * - `pool`: the worker pool could not run the task in time.
 * - `internal`: anything unexpected.
 */
export type FailureCategory = 'fetch' | 'validation' | 'decrypt' | 'kms' | 'credentials' | 'setup' | 'pool' | 'internal';

/** What an HTTP status changes for `fetch_status`. */
export interface StatusOverride {
  readonly transient?: boolean | undefined;
  readonly hint?: string | undefined;
}

export interface FailureInfo {
  readonly category: FailureCategory;
  /**
   * What a request answers when its task fails with this code. Only serve tasks fail requests
   * directly (decrypt, KMS, credential, setup, pool, internal codes); a code only a load returns
   * names what requests answer while that failure leaves the agent without an artifact.
   */
  readonly reason: Reason;
  /** Trying again unchanged may succeed (an outage, a timeout, a full queue); nothing needs fixing. */
  readonly transient: boolean;
  /** Printed after a start-up failure with this code: what the operator should check. */
  readonly hint: string;
  /**
   * `fetch_status` only: overrides by the source's HTTP status, keyed by the status (`"404"`) or
   * its class (`"5xx"`); the exact status wins.
   */
  readonly byStatus?: Readonly<Record<string, StatusOverride>> | undefined;
}

const NETWORK = 'network: the source could not be reached; check the address, DNS, proxy settings (HTTPS_PROXY/NO_PROXY) and firewall';
const FETCH_RULES = 'the source location is refused by the fetch safety rules; use an https URL on the final host';
const ACCESS = 'access denied: check the credentials or token the source needs and that they grant read access';
const AGE_KEY = 'decryption: check that the age key (CLEF_AGENT_AGE_KEY or CLEF_AGENT_AGE_KEY_FILE) matches the recipient the artifact was packed for';
const SIGNATURE = 'signature: check CLEF_AGENT_VERIFY_KEY matches the key the artifact was signed with, and that the artifact was signed';
const REJECTED = 'the artifact was rejected; see the message';

const TABLE = {
  // Fetch (SPEC §4.2). Retries inside one fetch are decided from the answer itself (status and
  // rate-limit headers, workers/fetch/policy.ts), not from these flags.
  fetch_failed: { category: 'fetch', reason: 'not_loaded', transient: true, hint: NETWORK },
  fetch_status: {
    category: 'fetch',
    reason: 'not_loaded',
    transient: false,
    hint: 'the source answered an error status; check the source URL and the server',
    byStatus: {
      '401': { hint: ACCESS },
      '403': { hint: ACCESS },
      '404': { hint: 'not found: the artifact is not packed yet, or the credentials have no access (some hosts, e.g. GitHub, answer 404 for both)' },
      '429': { transient: true },
      '5xx': { transient: true },
    },
  },
  fetch_timeout: { category: 'fetch', reason: 'not_loaded', transient: true, hint: NETWORK },
  too_large: { category: 'fetch', reason: 'not_loaded', transient: false, hint: 'raise CLEF_AGENT_MAX_ARTIFACT_BYTES if the artifact is really this large' },
  forbidden_redirect: { category: 'fetch', reason: 'not_loaded', transient: false, hint: FETCH_RULES },
  forbidden_address: { category: 'fetch', reason: 'not_loaded', transient: false, hint: FETCH_RULES },
  insecure_source: { category: 'fetch', reason: 'not_loaded', transient: false, hint: FETCH_RULES },
  source_unreadable: {
    category: 'fetch',
    reason: 'not_loaded',
    transient: false,
    hint: 'the artifact file could not be read; check the path and its permissions',
  },
  // An S3 source: the AWS credential chain gave none, so the object could not be requested.
  credentials_unavailable: {
    category: 'fetch',
    reason: 'not_loaded',
    transient: false,
    hint: 'no AWS credentials: set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, a web identity (IRSA) or run with an ECS task role / EC2 instance profile',
  },

  // Validation, in the order of SPEC §4.3.
  invalid_json: { category: 'validation', reason: 'not_loaded', transient: false, hint: REJECTED },
  invalid_shape: { category: 'validation', reason: 'not_loaded', transient: false, hint: REJECTED },
  unsupported_version: { category: 'validation', reason: 'not_loaded', transient: false, hint: REJECTED },
  identity_mismatch: {
    category: 'validation',
    reason: 'not_loaded',
    transient: false,
    hint: 'the artifact names another identity or environment than CLEF_AGENT_EXPECT_IDENTITY/CLEF_AGENT_EXPECT_ENVIRONMENT',
  },
  expired: { category: 'validation', reason: 'expired', transient: false, hint: 'the artifact is past its expiresAt; pack a fresh one' },
  integrity: { category: 'validation', reason: 'not_loaded', transient: false, hint: REJECTED },
  signature_missing: { category: 'validation', reason: 'not_loaded', transient: false, hint: SIGNATURE },
  signature_invalid: { category: 'validation', reason: 'not_loaded', transient: false, hint: SIGNATURE },
  rollback: { category: 'validation', reason: 'not_loaded', transient: false, hint: REJECTED },
  clock_skew: {
    category: 'validation',
    reason: 'not_loaded',
    transient: false,
    hint: 'the artifact was packed more than 5 minutes in the future: check the clocks of the packing machine and of this host, then pack it again',
  },
  // Also what a serve task answers if a decrypted payload does not parse.
  invalid_payload: { category: 'validation', reason: 'decrypt_failed', transient: false, hint: REJECTED },
  too_many_keys: {
    category: 'validation',
    reason: 'decrypt_failed',
    transient: false,
    hint: 'the payload holds more keys than CLEF_AGENT_MAX_KEYS; raise it if the secret set is really this large, or split it across identities',
  },
  // Also what the age path answers when handed an envelope artifact.
  unsupported_encryption: {
    category: 'validation',
    reason: 'decrypt_failed',
    transient: false,
    hint: 'the artifact uses an encryption this agent does not support (KMS envelopes: provider "aws" only)',
  },

  // Decryption. For an envelope artifact: a wrapped key KMS cannot open, a bad data key, a failed tag.
  decrypt_failed: { category: 'decrypt', reason: 'decrypt_failed', transient: false, hint: AGE_KEY },

  // KMS (envelope artifacts): access or key state (AccessDenied, Disabled, NotFound…) …
  kms_denied: {
    category: 'kms',
    reason: 'kms_denied',
    transient: false,
    hint: 'KMS denied the data key: check that the IAM role has kms:Decrypt on the envelope keyId and that the key is enabled',
  },
  // … or an outage: throttling, network, timeouts, 5xx.
  kms_unavailable: {
    category: 'kms',
    reason: 'kms_unavailable',
    transient: true,
    hint: 'KMS could not be reached: check AWS_REGION (or AWS_ENDPOINT_URL_KMS), network access to KMS and the proxy settings',
  },

  // The credential chain behind KMS calls. A request answers with the KMS reasons: for the client,
  // KMS denied or could not be asked, whichever step of it failed.
  // Refused or found nothing: STS refused the web identity, the token file is missing, no provider had any.
  credentials_denied: {
    category: 'credentials',
    reason: 'kms_denied',
    transient: false,
    hint: 'AWS credentials: for a web identity (IRSA) check AWS_ROLE_ARN, the token file and the role’s trust policy for this service account; otherwise set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE, or run with an ECS task role / EC2 instance profile',
  },
  // STS or the container/instance metadata endpoint unreachable, timing out, throttling or failing.
  credentials_unreachable: {
    category: 'credentials',
    reason: 'kms_unavailable',
    transient: true,
    hint: 'AWS credentials could not be fetched: check network access to STS (or AWS_ENDPOINT_URL_STS) and to the container or instance metadata endpoint, and the proxy settings',
  },

  // The agent's age key.
  key_invalid: { category: 'setup', reason: 'decrypt_failed', transient: false, hint: AGE_KEY },
  key_unreadable: { category: 'setup', reason: 'decrypt_failed', transient: false, hint: AGE_KEY },
  no_key: {
    category: 'setup',
    reason: 'decrypt_failed',
    transient: false,
    hint: 'this is an age artifact and no age key is configured: set CLEF_AGENT_AGE_KEY or CLEF_AGENT_AGE_KEY_FILE (KMS envelope artifacts need none)',
  },

  // The rollback state file next to the disk cache (workers/cache/state.ts): the message says what to do.
  state_invalid: { category: 'setup', reason: 'not_loaded', transient: false, hint: REJECTED },

  // The pool (src/pool.ts): the queue was full, or the deadline passed and the worker was replaced.
  overloaded: { category: 'pool', reason: 'overloaded', transient: true, hint: REJECTED },
  task_timeout: { category: 'pool', reason: 'timeout', transient: true, hint: REJECTED },

  // A crashed worker or a bug: the request could not be answered (the next one runs on a fresh
  // worker), and nothing says that trying again will do better.
  internal: { category: 'internal', reason: 'decrypt_failed', transient: false, hint: REJECTED },
} satisfies Record<string, FailureInfo>;

export type FailureCode = keyof typeof TABLE;

export const FAILURES: Readonly<Record<FailureCode, FailureInfo>> = TABLE;

/** A failure as far as its meaning goes: the code, and the HTTP status for `fetch_status`. */
export interface FailureKey {
  readonly code: FailureCode;
  readonly status?: number | undefined;
}

/** The table's entry for `f`, with its status override (if any) applied. */
export function failureInfo(f: FailureKey): FailureInfo {
  const info = FAILURES[f.code];
  if (info.byStatus === undefined || f.status === undefined) return info;
  const override = info.byStatus[String(f.status)] ?? info.byStatus[`${Math.floor(f.status / 100)}xx`];
  if (override === undefined) return info;
  return { category: info.category, reason: info.reason, transient: override.transient ?? info.transient, hint: override.hint ?? info.hint };
}
