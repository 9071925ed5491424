/** Fetch dispatch by source kind. New kinds (S3, VCS) plug in here. */
import type { FetchPolicy, SourceSpec, TaskFailure } from '../../common/protocol.js';
import { fail } from '../result.js';
import { fetchFile } from './file.js';
import { fetchHttp, type HttpDeps } from './http.js';
import type { FetchOutcome } from './types.js';

export type { FetchOutcome } from './types.js';

export async function fetchSource(source: SourceSpec, policy: FetchPolicy, marker: string | undefined, deps?: HttpDeps): Promise<FetchOutcome | TaskFailure> {
  switch (source.kind) {
    case 'file':
      return fetchFile(source.path, policy);
    case 'http':
      return fetchHttp(source.url, policy, marker, deps);
    default:
      // Unreachable with today's SourceSpec; guards a main thread that is newer than the workers.
      return fail('internal', `unsupported source kind ${String((source as { kind?: unknown }).kind)}`);
  }
}
