/**
 * The AWS endpoint variables the SDK honours (KMS, the credential chain's STS calls) and the agent's
 * own S3 fetches use: one rule for the agent and `clef-agent pack`. SigV4 authenticates a request
 * but encrypts nothing: over plain http the session token travels readable, and so does what KMS
 * answers — a Decrypt's or GenerateDataKey's plaintext data key. So each value must be an https URL,
 * an http URL to a loopback host, or plain http the operator allowed with CLEF_AGENT_ALLOW_HTTP=true.
 */
import { maskUrl, quote } from './display.js';
import { isPlainRemoteHttp } from './net.js';

/** Checked in this order; the SDK prefers the service's own variable over AWS_ENDPOINT_URL. */
export const AWS_ENDPOINT_VARIABLES = ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_KMS', 'AWS_ENDPOINT_URL_STS', 'AWS_ENDPOINT_URL_S3'] as const;
export type AwsEndpointVariable = (typeof AWS_ENDPOINT_VARIABLES)[number];

export const ALLOW_HTTP_VARIABLE = 'CLEF_AGENT_ALLOW_HTTP';

/** One refused value, in the config's `variable: problem; expected …` shape. Never holds the raw value. */
export interface EndpointProblem {
  readonly variable: AwsEndpointVariable;
  readonly problem: string;
  readonly expected: string;
}

const EXPECTED = `an https:// URL, an http:// URL to a loopback host (127.0.0.0/8, ::1, localhost), or ${ALLOW_HTTP_VARIABLE}=true`;

/** What plain http would expose, per variable (the refusal says it). */
const EXPOSED: Readonly<Record<AwsEndpointVariable, string>> = {
  AWS_ENDPOINT_URL: 'the AWS session token and the data keys KMS returns',
  AWS_ENDPOINT_URL_KMS: 'the AWS session token and the data keys KMS returns',
  AWS_ENDPOINT_URL_STS: 'the web identity token and the credentials STS returns',
  AWS_ENDPOINT_URL_S3: 'the AWS session token',
};

/**
 * The value as a usable endpoint URL, or a problem. Unset and empty count as absent (the SDK ignores
 * an empty value). `allowHttp` undefined skips the plain-http rule (the caller reports that
 * variable's own problem).
 */
export function checkAwsEndpoint(name: AwsEndpointVariable, raw: string | undefined, allowHttp: boolean | undefined): URL | EndpointProblem | undefined {
  if (raw === undefined || raw === '') return undefined;
  const problem = (what: string, expected = EXPECTED): EndpointProblem => ({ variable: name, problem: what, expected });
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    // Not echoed: an unparsable value cannot be masked and may hold credentials.
    return problem('is not a valid URL');
  }
  const shown = quote(maskUrl(url), 120);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return problem(`uses the unsupported scheme ${quote(url.protocol)}`);
  if (url.hostname === '') return problem(`${shown} has no host`);
  // SigV4 is the authentication: userinfo would only be one more secret in a URL.
  if (url.username !== '' || url.password !== '') return problem(`${shown} contains credentials (user:password)`, `${EXPECTED}, without user:password`);
  if (allowHttp === false && isPlainRemoteHttp(url)) {
    return problem(`${shown} uses plain http to a non-loopback host, which would carry ${EXPOSED[name]} unencrypted`);
  }
  return url;
}

/** The problems of `names` (default: every AWS endpoint variable), in that order. */
export function awsEndpointProblems(
  env: Readonly<Record<string, string | undefined>>,
  allowHttp: boolean | undefined,
  names: readonly AwsEndpointVariable[] = AWS_ENDPOINT_VARIABLES,
): EndpointProblem[] {
  const out: EndpointProblem[] = [];
  for (const name of names) {
    const r = checkAwsEndpoint(name, env[name], allowHttp);
    if (r !== undefined && !(r instanceof URL)) out.push(r);
  }
  return out;
}
