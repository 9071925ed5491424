/**
 * Bitbucket Cloud source API: `GET {api}/repositories/{workspace}/{repo}/src/{ref}/{path}`, which
 * answers the raw file. Auth: a repository/workspace access token as `Bearer`; a token of the form
 * `user:app-password` is sent as Basic instead (app passwords need the user name).
 *
 * Without CLEF_AGENT_VCS_REF the ref is the repository's main branch, read from
 * `GET {api}/repositories/{workspace}/{repo}` (`mainbranch.name`) and remembered for 10 minutes per
 * worker, so a poll usually costs one request against the hourly rate limit, not two.
 */
import { MAIN_BRANCH_TTL_MS } from '../../../common/limits.js';
import type { FetchPolicy, TaskFailure, VcsSourceSpec } from '../../../common/protocol.js';
import { taskFailure } from '../../../common/task-failure.js';
import { fetchWithPolicy, type HttpDeps } from '../policy.js';
import type { FetchOutcome } from '../types.js';
import { apiUrl, encodePath } from './paths.js';

const mainBranches = new Map<string, { readonly name: string; readonly at: number }>();

export async function fetchBitbucket(s: VcsSourceSpec, policy: FetchPolicy, marker: string | undefined, deps: HttpDeps): Promise<FetchOutcome | TaskFailure> {
  const headers = { authorization: authHeader(s.token), accept: '*/*' };
  const ref = s.ref ?? (await mainBranch(s, headers, policy, deps));
  if (typeof ref !== 'string') return ref;
  const url = apiUrl(s.apiUrl, `/repositories/${encodePath(s.repo)}/src/${encodeURIComponent(ref)}/${encodePath(s.path)}`);
  return fetchWithPolicy({ url, headers, httpHint: 'set CLEF_AGENT_ALLOW_HTTP=true' }, policy, marker, deps);
}

function authHeader(token: string): string {
  return token.includes(':') ? `Basic ${Buffer.from(token, 'utf8').toString('base64')}` : `Bearer ${token}`;
}

async function mainBranch(s: VcsSourceSpec, headers: Record<string, string>, policy: FetchPolicy, deps: HttpDeps): Promise<string | TaskFailure> {
  const key = `${s.apiUrl}|${s.repo}`;
  const hit = mainBranches.get(key);
  if (hit !== undefined && Date.now() - hit.at < MAIN_BRANCH_TTL_MS) return hit.name;
  const url = apiUrl(s.apiUrl, `/repositories/${encodePath(s.repo)}`);
  const r = await fetchWithPolicy(
    { url, headers: { ...headers, accept: 'application/json' }, httpHint: 'set CLEF_AGENT_ALLOW_HTTP=true' },
    { ...policy, maxBytes: Math.min(policy.maxBytes, 1024 * 1024) },
    undefined,
    deps,
  );
  if ('ok' in r) return r;
  if (r.kind === 'unchanged') return taskFailure('internal', 'unexpected 304 for the repository metadata');
  let name: unknown;
  try {
    name = (JSON.parse(Buffer.from(r.bytes).toString('utf8')) as { mainbranch?: { name?: unknown } }).mainbranch?.name;
  } catch {
    name = undefined;
  }
  if (typeof name !== 'string' || name === '') {
    return taskFailure('source_unreadable', 'the Bitbucket repository has no main branch; set CLEF_AGENT_VCS_REF');
  }
  mainBranches.set(key, { name, at: Date.now() });
  return name;
}
