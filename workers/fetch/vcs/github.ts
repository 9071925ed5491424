/**
 * GitHub (and GitHub Enterprise Server) contents API:
 * `GET {api}/repos/{owner}/{repo}/contents/{path}?ref={ref}` with the raw media type, so files above
 * the 1 MB inline-content limit (up to 100 MB) come back whole. A server that ignores the media type
 * answers the JSON object instead; its base64 `content` is decoded here. The ETag (derived from the
 * blob sha) is the marker, and GitHub does not count a 304 against the rate limit.
 */
import type { FetchPolicy, TaskFailure, VcsSourceSpec } from '../../../common/protocol.js';
import { taskFailure } from '../../../common/task-failure.js';
import { fetchWithPolicy, type HttpDeps } from '../policy.js';
import type { FetchOutcome } from '../types.js';
import { apiUrl, encodePath } from './paths.js';

export async function fetchGithub(s: VcsSourceSpec, policy: FetchPolicy, marker: string | undefined, deps: HttpDeps): Promise<FetchOutcome | TaskFailure> {
  const url = apiUrl(s.apiUrl, `/repos/${encodePath(s.repo)}/contents/${encodePath(s.path)}`);
  if (s.ref !== undefined) url.searchParams.set('ref', s.ref);
  const headers = {
    authorization: `Bearer ${s.token}`,
    accept: 'application/vnd.github.raw',
    'x-github-api-version': '2022-11-28',
  };
  const r = await fetchWithPolicy({ url, headers, httpHint: 'set CLEF_AGENT_ALLOW_HTTP=true' }, policy, marker, deps);
  if ('ok' in r || r.kind === 'unchanged') return r;
  return unwrapContents(r.bytes, r.contentType, r.marker);
}

interface Contents {
  readonly type?: unknown;
  readonly encoding?: unknown;
  readonly content?: unknown;
  readonly sha?: unknown;
}

/**
 * The raw body as is, or the file bytes out of a contents object (`type: "file"`, base64
 * `content`). A packed artifact itself is JSON too, but it never has `type`/`encoding` fields of
 * that shape, so the two cannot be confused.
 */
function unwrapContents(bytes: Uint8Array, contentType: string | undefined, marker: string | undefined): FetchOutcome | TaskFailure {
  if (contentType === undefined || !/^application\/json\b/i.test(contentType)) return { kind: 'bytes', bytes, marker };
  let obj: Contents;
  try {
    obj = JSON.parse(Buffer.from(bytes).toString('utf8')) as Contents;
  } catch {
    return { kind: 'bytes', bytes, marker };
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj) || typeof obj.encoding !== 'string' || !('content' in obj)) {
    return { kind: 'bytes', bytes, marker };
  }
  if (obj.type !== 'file') return taskFailure('source_unreadable', 'the repository path is not a file (the contents API answered a directory or link)');
  const sha = typeof obj.sha === 'string' ? `"${obj.sha}"` : undefined;
  if (obj.encoding !== 'base64' || typeof obj.content !== 'string' || obj.content === '') {
    // encoding "none": the file is above the inline limit and the raw media type was ignored.
    return taskFailure('source_unreadable', 'the artifact is larger than the contents API inline limit and the server did not honour the raw media type');
  }
  return { kind: 'bytes', bytes: Buffer.from(obj.content.replace(/\s+/g, ''), 'base64'), marker: marker ?? sha };
}
