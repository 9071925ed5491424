/**
 * How values from outside (URLs, names, claims, errors) are shown in log lines and error messages,
 * on both sides of the thread line. One rule each, so a value is never masked on one side and
 * echoed on the other.
 */

/**
 * A URL for logs and messages: user and password become `***@`, the whole query becomes `?***`
 * (presigned URLs and API tokens travel in it: `X-Amz-Signature`, `token`, `sig`, …; even a
 * parameter's name can be a credential in some schemes), and the fragment is dropped. Unparseable
 * input is not echoed at all.
 */
export function maskUrl(raw: string | URL): string {
  let u: URL;
  try {
    u = new URL(typeof raw === 'string' ? raw : raw.href);
  } catch {
    return '<unparseable URL>';
  }
  const userinfo = u.username !== '' || u.password !== '' ? '***@' : '';
  const query = u.search !== '' ? '?***' : '';
  return `${u.protocol}//${userinfo}${u.host}${u.pathname}${query}`;
}

/**
 * A non-secret, attacker-influenced value as shown in a message: strings are cut to `max`
 * characters, then JSON-quoted so control characters and newlines are escaped and a crafted value
 * cannot forge extra log lines; anything else is JSON-encoded (or named by its type) and cut.
 */
export function quote(value: unknown, max = 64): string {
  if (typeof value === 'string') return JSON.stringify(value.length > max ? `${value.slice(0, max)}…` : value);
  let s: string;
  try {
    // undefined (or anything JSON cannot express) falls back to its type name.
    s = JSON.stringify(value) ?? typeof value;
  } catch {
    s = typeof value;
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** The `code` of a Node system error (`ENOENT`, `ECONNREFUSED`, …), when there is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code?: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}
