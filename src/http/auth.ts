import crypto, { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Bearer token check in constant time, including when lengths differ: both sides are reduced to
 * a SHA-256 digest under a per-process random salt, so the comparison always runs over 32 bytes
 * and the time taken says nothing about how much of the token matched or how long it is. (Hash
 * timing depends only on the presented value's length, which the client already knows.)
 */
export class TokenGuard {
  private readonly salt = randomBytes(32).toString('hex');
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
    return sha256(this.salt + value);
  }
}

/** `Bearer <token>`, the scheme name case-insensitive (RFC 7235). */
export function parseBearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^bearer +(\S+) *$/i.exec(header);
  return m?.[1];
}

// One-shot `crypto.hash` (Node ≥ 20.12) is about 3× cheaper than a Hash object; this runs on
// every authenticated request.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'buffer') => Buffer }).hash;
function sha256(value: string): Buffer {
  return oneShot ? oneShot('sha256', value, 'buffer') : createHash('sha256').update(value, 'utf8').digest();
}
