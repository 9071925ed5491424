import { failureInfo } from '../common/failures.js';
import type { LoadResult } from '../common/protocol.js';

/** A start-up failure: the process exits non-zero with this message (never a secret). */
export class StartupError extends Error {
  readonly exitCode: number;
  /**
   * What failed, as the Lambda extension reports it (`Lambda-Extension-Function-Error-Type`):
   * `Extension.ArtifactLoadFailed` when the first load failed every attempt, else `Extension.StartFailed`
   * (the age key, the rollback state, a listener).
   */
  readonly errorType: 'Extension.ArtifactLoadFailed' | 'Extension.StartFailed';
  constructor(message: string, exitCode = 1, errorType: StartupError['errorType'] = 'Extension.StartFailed') {
    super(message);
    this.name = 'StartupError';
    this.exitCode = exitCode;
    this.errorType = errorType;
  }
}

/** The hint for a first load that failed every attempt (SPEC §4.2); a failure's is in the failure table. */
export function startupHint(r: LoadResult): string {
  if (r.ok) return r.outcome === 'revoked' ? 'the artifact is revoked (revokedAt is set); publish a new artifact to end the revocation' : '';
  return failureInfo(r).hint;
}
