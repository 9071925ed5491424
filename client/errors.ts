/**
 * The client's one error class. `reason` is the agent's API reason code (`not_found`,
 * `ambiguous_key`, `unauthorized`, `revoked`, …: the README's HTTP API table) when the agent
 * answered, or one of the client's own codes when it did not. Messages never contain the token.
 */

/** Reasons the client itself gives when there is no API answer to report. */
export type ClientReason =
  /** No token configured (option, CLEF_AGENT_TOKEN, CLEF_AGENT_TOKEN_FILE), or the token file cannot be read. */
  | 'no_token'
  /** The connection failed (the agent is not running, the socket does not exist, …); `cause` has the system error. */
  | 'unreachable'
  /** No full answer within the request's time limit. */
  | 'client_timeout'
  /** The answer was not what the agent sends (not JSON, wrong shape, a 200 long-poll answer without an ETag). */
  | 'bad_response'
  /** Stopped by the caller (`stop()`, an aborted signal). */
  | 'aborted';

export class ClefAgentError extends Error {
  /** The HTTP status, or 0 when the agent did not answer. */
  readonly status: number;
  /** The API's `reason` code, or a ClientReason. */
  readonly reason: string;
  /** For `ambiguous_key` (409): the qualified names the bare key matches. */
  readonly candidates: readonly string[] | undefined;
  /** A stable code to match on instead of `instanceof` (which fails across copies of the package). */
  readonly code = 'CLEF_AGENT_ERROR';

  constructor(message: string, o: { status: number; reason: string; candidates?: readonly string[] | undefined; cause?: unknown }) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'ClefAgentError';
    this.status = o.status;
    this.reason = o.reason;
    this.candidates = o.candidates;
  }
}
