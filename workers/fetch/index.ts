/**
 * Fetch dispatch by source kind. Every remote kind goes through the one policy in policy.ts.
 *
 * Remote kinds are imported on their first fetch in this worker: the HTTP stack (ky, undici) and
 * the AWS SDK (S3 credentials and signing) cost start-up time and memory that a file source, or
 * an HTTP source that is not S3, never needs.
 */
import type { FetchPolicy, SourceSpec, TaskFailure } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import { fetchFile } from './file.js';
import type { S3Deps } from './s3.js';
import type { FetchOutcome } from './types.js';

/** Test seams for every remote kind (resolver, sleeper, AWS credentials). */
export type FetchDeps = S3Deps;

export async function fetchSource(source: SourceSpec, policy: FetchPolicy, marker: string | undefined, deps?: FetchDeps): Promise<FetchOutcome | TaskFailure> {
  switch (source.kind) {
    case 'file':
      return fetchFile(source.path, policy);
    case 'http':
      return (await import('./http.js')).fetchHttp(source.url, policy, marker, deps);
    case 's3':
      return (await import('./s3.js')).fetchS3(source, policy, marker, deps);
    case 'vcs':
      return (await import('./vcs/index.js')).fetchVcs(source, policy, marker, deps);
    default:
      // Unreachable with today's SourceSpec; guards a main thread that is newer than the workers.
      return taskFailure('internal', `unsupported source kind ${String((source as { kind?: unknown }).kind)}`);
  }
}
