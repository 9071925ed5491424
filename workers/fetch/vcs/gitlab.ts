/**
 * GitLab (gitlab.com or self-managed) repository files API, raw variant:
 * `GET {api}/projects/{url-encoded project path}/repository/files/{url-encoded file path}/raw?ref=…`
 * with the `PRIVATE-TOKEN` header. The raw endpoint has no inline-size limit. Without
 * CLEF_AGENT_VCS_REF the ref is `HEAD`, which GitLab resolves to the project's default branch in one
 * round trip (older GitLab versions require `ref`, so it is always sent).
 */
import type { FetchPolicy, TaskFailure, VcsSourceSpec } from '../../../common/protocol.js';
import { fetchWithPolicy, type HttpDeps } from '../policy.js';
import type { FetchOutcome } from '../types.js';
import { apiUrl } from './paths.js';

export async function fetchGitlab(s: VcsSourceSpec, policy: FetchPolicy, marker: string | undefined, deps: HttpDeps): Promise<FetchOutcome | TaskFailure> {
  const url = apiUrl(s.apiUrl, `/projects/${encodeURIComponent(s.repo)}/repository/files/${encodeURIComponent(s.path)}/raw`);
  url.searchParams.set('ref', s.ref ?? 'HEAD');
  const headers = { 'private-token': s.token, accept: '*/*' };
  return fetchWithPolicy({ url, headers, httpHint: 'set CLEF_AGENT_ALLOW_HTTP=true' }, policy, marker, deps);
}
