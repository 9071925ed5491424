import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Bearer token check in constant time, including when lengths differ: both sides are reduced to
 * an HMAC under a per-process random key, so the comparison always runs over 32 bytes and the
 * time taken says nothing about how much of the token matched or how long it is.
 */
export class TokenGuard {
  private readonly hmacKey = randomBytes(32);
  private readonly expected: Buffer;

  constructor(token: string) {
    this.expected = this.digest(token);
  }

  /** `header` is the raw `Authorization` header value, if any. */
  check(header: string | undefined): boolean {
    const presented = parseBearer(header);
    // Still hash something when the header is missing or malformed, so every path costs the same.
    const ok = timingSafeEqual(this.digest(presented ?? ''), this.expected);
    return ok && presented !== undefined;
  }

  private digest(value: string): Buffer {
    return createHmac('sha256', this.hmacKey).update(value, 'utf8').digest();
  }
}

/** `Bearer <token>`, the scheme name case-insensitive (RFC 7235). */
export function parseBearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^bearer +(\S+) *$/i.exec(header);
  return m?.[1];
}
