/**
 * Local stand-ins for the GitHub contents API, the GitLab repository files API and the Bitbucket
 * source API, reproducing their documented answers: raw content (GitHub with
 * `Accept: application/vnd.github.raw`), the GitHub JSON object with base64 `content` (and
 * `encoding: "none"` above the 1 MB inline limit), ETags and 304, 401/404, and rate limiting.
 * `override` answers the next requests instead (error statuses, rate-limit headers).
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { LocalServer } from './local-server.js';

export type Provider = 'github' | 'gitlab' | 'bitbucket';

export interface VcsRequest {
  readonly method: string;
  /** The raw request target, percent-encoding as sent. */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly status: number;
}

export type Override = (req: IncomingMessage, res: ServerResponse) => void;

const GITHUB_INLINE_LIMIT = 1024 * 1024;

export class VcsServer extends LocalServer {
  /** `ref:path` → file content. The default branch is `main`. */
  readonly files = new Map<string, string>();
  readonly requests: VcsRequest[] = [];
  /** Answers the next requests (shifted one per request) instead of the normal routes. */
  readonly overrides: Override[] = [];
  /** GitHub: ignore the raw media type and answer the JSON object (like an old proxy/GHE). */
  githubJson = false;
  /** Send ETags and answer 304 to a matching If-None-Match. */
  etags = true;
  defaultBranch = 'main';

  constructor(
    readonly provider: Provider,
    readonly token: string,
    readonly repo: string,
  ) {
    super();
  }

  /** The CLEF_AGENT_VCS_API_URL value (GitHub Enterprise style prefixes are exercised too). */
  apiUrl(host = '127.0.0.1'): string {
    const prefix = { github: '/api/v3', gitlab: '/api/v4', bitbucket: '/2.0' }[this.provider];
    return `http://${host}:${this.port}${prefix}`;
  }

  put(path: string, content: string, ref = this.defaultBranch): void {
    this.files.set(`${ref}:${path}`, content);
  }

  protected handle(req: IncomingMessage, res: ServerResponse): void {
    const end = res.end.bind(res);
    // Record the final status of every answer.
    res.end = ((...args: Parameters<ServerResponse['end']>) => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, status: res.statusCode });
      return end(...args);
    }) as ServerResponse['end'];
    const override = this.overrides.shift();
    if (override !== undefined) return override(req, res);
    const raw = req.url ?? '/';
    const [pathPart = '', queryPart = ''] = raw.split('?');
    const query = new URLSearchParams(queryPart);
    switch (this.provider) {
      case 'github':
        return this.github(req, res, pathPart, query);
      case 'gitlab':
        return this.gitlab(req, res, pathPart, query);
      case 'bitbucket':
        return this.bitbucket(req, res, pathPart);
    }
  }

  private github(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): void {
    if (req.headers['authorization'] !== `Bearer ${this.token}`) return json(res, 401, { message: 'Bad credentials' });
    const prefix = `/api/v3/repos/${this.repo}/contents/`;
    if (!path.startsWith(prefix)) return json(res, 404, { message: 'Not Found' });
    const file = decodeURIComponent(path.slice(prefix.length));
    const content = this.files.get(`${query.get('ref') ?? this.defaultBranch}:${file}`);
    if (content === undefined) return json(res, 404, { message: 'Not Found' });
    const sha = createHash('sha1')
      .update(`blob ${Buffer.byteLength(content)}\0${content}`)
      .digest('hex');
    const raw = !this.githubJson && String(req.headers['accept']).includes('application/vnd.github.raw');
    const etag = `"${raw ? 'r' : 'j'}${sha}"`;
    if (this.etags && req.headers['if-none-match'] === etag) return void res.writeHead(304, { ETag: etag }).end();
    const headers: Record<string, string> = this.etags ? { ETag: etag } : {};
    if (raw) {
      res.writeHead(200, { ...headers, 'Content-Type': 'application/vnd.github.raw; charset=utf-8' });
      return void res.end(content);
    }
    const big = Buffer.byteLength(content) > GITHUB_INLINE_LIMIT;
    const b64 = Buffer.from(content, 'utf8')
      .toString('base64')
      .replace(/(.{60})/g, '$1\n');
    json(
      res,
      200,
      {
        type: 'file',
        encoding: big ? 'none' : 'base64',
        size: Buffer.byteLength(content),
        name: file.split('/').pop(),
        path: file,
        content: big ? '' : b64,
        sha,
      },
      headers,
    );
  }

  private gitlab(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): void {
    if (req.headers['private-token'] !== this.token) return json(res, 401, { message: '401 Unauthorized' });
    // The project path and the file path are each ONE url-encoded segment.
    const m = /^\/api\/v4\/projects\/([^/]+)\/repository\/files\/([^/]+)\/raw$/.exec(path);
    if (m === null || decodeURIComponent(m[1] ?? '') !== this.repo) return json(res, 404, { message: '404 Project Not Found' });
    let ref = query.get('ref');
    if (ref === null) return json(res, 400, { error: 'ref is missing' });
    if (ref === 'HEAD') ref = this.defaultBranch;
    const content = this.files.get(`${ref}:${decodeURIComponent(m[2] ?? '')}`);
    if (content === undefined) return json(res, 404, { message: '404 File Not Found' });
    const blob = createHash('sha1')
      .update(`blob ${Buffer.byteLength(content)}\0${content}`)
      .digest('hex');
    const etag = `"${blob}"`;
    if (this.etags && req.headers['if-none-match'] === etag) return void res.writeHead(304, { ETag: etag }).end();
    res.writeHead(200, { ...(this.etags ? { ETag: etag } : {}), 'X-Gitlab-Blob-Id': blob, 'Content-Type': 'text/plain; charset=utf-8' });
    res.end(content);
  }

  private bitbucket(req: IncomingMessage, res: ServerResponse, path: string): void {
    if (req.headers['authorization'] !== `Bearer ${this.token}`) return json(res, 401, { type: 'error', error: { message: 'Unauthorized' } });
    if (path === `/2.0/repositories/${this.repo}`)
      return json(res, 200, { type: 'repository', full_name: this.repo, mainbranch: { type: 'branch', name: this.defaultBranch } });
    const prefix = `/2.0/repositories/${this.repo}/src/`;
    if (!path.startsWith(prefix)) return json(res, 404, { type: 'error', error: { message: 'Resource not found' } });
    const [ref = '', ...rest] = path.slice(prefix.length).split('/');
    const content = this.files.get(`${decodeURIComponent(ref)}:${rest.map(decodeURIComponent).join('/')}`);
    if (content === undefined) return json(res, 404, { type: 'error', error: { message: 'No such file or directory' } });
    const etag = `"${createHash('sha1').update(content).digest('hex')}"`;
    if (this.etags && req.headers['if-none-match'] === etag) return void res.writeHead(304, { ETag: etag }).end();
    res.writeHead(200, { ...(this.etags ? { ETag: etag } : {}), 'Content-Type': 'application/octet-stream' });
    res.end(content);
  }
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/** An override answering one request with `status`, these headers and a JSON message. */
export function answer(status: number, headers: Record<string, string> = {}): Override {
  return (_req, res) => json(res, status, { message: `status ${status}` }, headers);
}
