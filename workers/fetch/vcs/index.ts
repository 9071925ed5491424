/** VCS dispatch by provider. Tokens travel only in request headers built by each provider. */
import type { FetchPolicy, TaskFailure, VcsSourceSpec } from '../../../common/protocol.js';
import type { HttpDeps } from '../policy.js';
import type { FetchOutcome } from '../types.js';
import { fetchBitbucket } from './bitbucket.js';
import { fetchGithub } from './github.js';
import { fetchGitlab } from './gitlab.js';

export function fetchVcs(s: VcsSourceSpec, policy: FetchPolicy, marker: string | undefined, deps: HttpDeps = {}): Promise<FetchOutcome | TaskFailure> {
  switch (s.provider) {
    case 'github':
      return fetchGithub(s, policy, marker, deps);
    case 'gitlab':
      return fetchGitlab(s, policy, marker, deps);
    case 'bitbucket':
      return fetchBitbucket(s, policy, marker, deps);
  }
}
