/**
 * Small helpers shared by every worker module: building tagged failures and keeping secrets out of
 * the messages they carry.
 */
import type { FailureCode, TaskFailure } from '../common/protocol.js';

/** Builds the tagged failure every worker step returns (never throws across the pool boundary). */
export function fail(code: FailureCode, message: string, status?: number): TaskFailure {
  return status === undefined ? { ok: false, code, message } : { ok: false, code, message, status };
}

export function isFailure(v: unknown): v is TaskFailure {
  return typeof v === 'object' && v !== null && (v as { ok?: unknown }).ok === false;
}

/**
 * A URL fit for a log line: userinfo is replaced by `***` and a query string (which can carry
 * presigned credentials) by `?***`. Unparseable input is not echoed at all.
 */
export function maskUrl(raw: string | URL): string {
  let u: URL;
  try {
    u = typeof raw === 'string' ? new URL(raw) : new URL(raw.href);
  } catch {
    return '<unparseable URL>';
  }
  const auth = u.username !== '' || u.password !== '' ? '***@' : '';
  const query = u.search !== '' ? '?***' : '';
  return `${u.protocol}//${auth}${u.host}${u.pathname}${query}`;
}

/** Shortens a non-secret, attacker-influenced value (e.g. a `version` claim) before quoting it. */
export function quote(value: unknown, max = 40): string {
  let s: string;
  try {
    // undefined (or anything JSON cannot express) falls back to its type name.
    s = JSON.stringify(value) ?? typeof value;
  } catch {
    s = typeof value;
  }
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

/** The `code` of a Node system error (ENOENT, ECONNREFUSED…), when there is one. */
export function errnoCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const c = (err as { code?: unknown }).code;
    if (typeof c === 'string') return c;
  }
  return undefined;
}
