/** URL building shared by the VCS providers: every user value is percent-encoded per segment. */

/** `base` (no trailing slash) + `path` (already encoded). */
export function apiUrl(base: string, path: string): URL {
  return new URL(`${base.replace(/\/+$/, '')}${path}`);
}

/** Encodes each `/`-separated segment, keeping the slashes (owner/repo, .clef/packed/…). */
export function encodePath(p: string): string {
  return p.split('/').map(encodeURIComponent).join('/');
}
