/**
 * The route table (SPEC §5): every path the agent answers, whether it needs the bearer token, and
 * the methods it allows. The server's gate order decides what happens before and after a match.
 */

export type RouteName = 'health' | 'ready' | 'secrets' | 'secret' | 'keys' | 'refresh';

export interface RouteMatch {
  readonly name: RouteName;
  readonly auth: boolean;
  /** For `secret`: the decoded key name (`ns__KEY`, `ns/KEY` or `KEY`). */
  readonly key?: string;
  /** The methods it answers, as the `Allow` header lists them; absent: ALLOWED_METHODS. */
  readonly allow?: string;
}

/** What the read routes answer (HEAD like GET without a body, SPEC §5). */
export const ALLOWED_METHODS = 'GET, HEAD';

/** Whether `method` may be used on `route` (else 405 with `Allow: allowedMethods(route)`). */
export function methodAllowed(route: RouteMatch, method: string | undefined): boolean {
  return route.allow === undefined ? method === 'GET' || method === 'HEAD' : method === route.allow;
}

export function allowedMethods(route: RouteMatch): string {
  return route.allow ?? ALLOWED_METHODS;
}

const STATIC_ROUTES: ReadonlyMap<string, RouteMatch> = new Map<string, RouteMatch>([
  ['/v1/health', { name: 'health', auth: false }],
  ['/v1/ready', { name: 'ready', auth: false }],
  ['/v1/secrets', { name: 'secrets', auth: true }],
  ['/v1/keys', { name: 'keys', auth: true }],
  // SPEC §10.5: an immediate refresh (token required, rate-limited); POST only, it changes state.
  ['/v1/refresh', { name: 'refresh', auth: true, allow: 'POST' }],
]);

const SECRET_PREFIX = '/v1/secrets/';

/** Match a request target (path and optional query). Returns undefined for unknown routes. */
export function matchRoute(target: string): RouteMatch | undefined {
  const q = target.indexOf('?');
  const path = q >= 0 ? target.slice(0, q) : target;
  const fixed = STATIC_ROUTES.get(path);
  if (fixed) return fixed;
  if (!path.startsWith(SECRET_PREFIX)) return undefined;
  const key = decodeKeyPath(path.slice(SECRET_PREFIX.length));
  return key === undefined ? undefined : { name: 'secret', auth: true, key };
}

/**
 * `KEY`, `ns__KEY`, `ns/KEY` as two segments, or `ns%2FKEY`. Anything else (empty segments, more
 * than two segments, bad percent-encoding) is not a key path.
 */
function decodeKeyPath(rest: string): string | undefined {
  const segments = rest.split('/');
  if (segments.length > 2 || segments.some((s) => s.length === 0)) return undefined;
  try {
    const decoded = segments.map((s) => decodeURIComponent(s));
    const name = decoded.join('/');
    // After decoding there may be at most one slash: `ns/KEY`.
    if (name.split('/').length > 2 || name.startsWith('/') || name.endsWith('/')) return undefined;
    return name;
  } catch {
    return undefined;
  }
}
