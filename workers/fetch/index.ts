/** Fetch dispatch by source kind. Every remote kind goes through the one policy in policy.ts. */
import type { FetchPolicy, SourceSpec, TaskFailure } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import { fetchFile } from './file.js';
import { fetchHttp } from './http.js';
import { fetchS3, type S3Deps } from './s3.js';
import { fetchVcs } from './vcs/index.js';
import type { FetchOutcome } from './types.js';

/** Test seams for every remote kind (resolver, sleeper, AWS credentials). */
export type FetchDeps = S3Deps;

export async function fetchSource(source: SourceSpec, policy: FetchPolicy, marker: string | undefined, deps?: FetchDeps): Promise<FetchOutcome | TaskFailure> {
  switch (source.kind) {
    case 'file':
      return fetchFile(source.path, policy);
    case 'http':
      return fetchHttp(source.url, policy, marker, deps);
    case 's3':
      return fetchS3(source, policy, marker, deps);
    case 'vcs':
      return fetchVcs(source, policy, marker, deps);
    default:
      // Unreachable with today's SourceSpec; guards a main thread that is newer than the workers.
      return taskFailure('internal', `unsupported source kind ${String((source as { kind?: unknown }).kind)}`);
  }
}
