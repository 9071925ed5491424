/**
 * Plain http(s) sources (including presigned S3 URLs, which carry their authorization in the
 * query). Everything but the URL handling is the shared fetch policy (policy.ts).
 */
import type { FetchPolicy, TaskFailure } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';
import { maskUrl } from '../../common/display.js';
import { fetchWithPolicy, type HttpDeps } from './policy.js';
import type { FetchOutcome } from './types.js';

export async function fetchHttp(rawUrl: string, policy: FetchPolicy, marker: string | undefined, deps: HttpDeps = {}): Promise<FetchOutcome | TaskFailure> {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    return taskFailure('fetch_failed', 'the source URL cannot be parsed');
  }
  const shown = maskUrl(url);
  const headers: Record<string, string> = {};
  if (url.username !== '' || url.password !== '') {
    // fetch refuses URLs with userinfo; it becomes Basic auth, sent only to this host (redirects
    // never leave it).
    let user: string;
    let pass: string;
    try {
      user = decodeURIComponent(url.username);
      pass = decodeURIComponent(url.password);
    } catch {
      return taskFailure('fetch_failed', `${shown}: the URL credentials are not valid percent-encoding`);
    }
    headers['authorization'] = `Basic ${Buffer.from(`${user}:${pass}`, 'utf8').toString('base64')}`;
    url.username = '';
    url.password = '';
  }
  url.hash = '';
  return fetchWithPolicy({ url, headers, label: shown }, policy, marker, deps);
}
