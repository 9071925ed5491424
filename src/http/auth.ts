import crypto, { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { MAIN_TOKEN_NAME, type ScopedToken } from '../config/scoped-tokens.js';

/**
 * Who a request authenticated as. The main token sees everything (`namespaces` and `scopeId`
 * undefined); a scoped token (SPEC §10.3) only its namespaces. `scopeId` names the scope for
 * anything that must keep scopes apart (cached bodies, ETags): two tokens with the same namespaces
 * share it, a token whose namespaces change on reload gets a new one.
 */
export interface Principal {
  /** For logs and the `token` metric label: `main`, or the scoped token's `name` from the file. */
  readonly name: string;
  readonly namespaces?: readonly string[] | undefined;
  readonly scopeId?: string | undefined;
}

const MAIN: Principal = { name: MAIN_TOKEN_NAME };

interface Entry {
  /** The keyed digest of the token's SHA-256 (see `TokenGuard`). */
  readonly digest: Buffer;
  readonly principal: Principal;
}

/**
 * Bearer token check in constant time, including when lengths differ (SPEC §5.1). The presented
 * token is hashed once with SHA-256 (the form the scoped-tokens file holds), then reduced under a
 * per-process random key to a 32-byte digest, and that digest is compared with every known token's
 * — the main token's and each scoped one's, always the whole list, with `timingSafeEqual` — so the
 * time taken says nothing about how much of a token matched, which entry failed, or which one
 * matched. (Hash timing depends only on the presented value's length, which the client knows; the
 * number of entries is the same for every request, whatever it presents.)
 *
 * `replace` swaps the whole table at once (SIGHUP reload): a request sees the old table or the new.
 */
export class TokenGuard {
  /** The per-process key in bytes 0–31; a SHA-256 goes in 32–63 for each keyed digest (no allocation per request). */
  private readonly scratch = Buffer.concat([randomBytes(32), Buffer.alloc(32)]);
  private entries: readonly Entry[] = [];
  /** Compared when no token is configured at all, so a check still costs one comparison. */
  private readonly decoy = randomBytes(32);

  constructor(main: string | undefined, scoped: readonly ScopedToken[] = []) {
    this.replace(main, scoped);
  }

  /** Install a new main token and scoped-token list (both at once). */
  replace(main: string | undefined, scoped: readonly ScopedToken[]): void {
    const entries: Entry[] = [];
    // An empty main token never matches anything (a missing header is hashed as '' below).
    if (main !== undefined && main !== '') entries.push({ digest: this.keyed(sha256(main)), principal: MAIN });
    for (const t of scoped) {
      entries.push({ digest: this.keyed(t.sha256), principal: { name: t.name, namespaces: t.namespaces, scopeId: JSON.stringify(t.namespaces) } });
    }
    this.entries = entries;
  }

  /** `header` is the raw `Authorization` header value, if any. The principal, or undefined (401). */
  authenticate(header: string | undefined): Principal | undefined {
    const presented = parseBearer(header);
    // Still hash something when the header is missing or malformed, so every path costs the same.
    const digest = this.keyed(sha256(presented ?? ''));
    const entries = this.entries;
    let found: Principal | undefined;
    if (entries.length === 0) timingSafeEqual(digest, this.decoy);
    // No early exit: every entry is compared, whatever matched.
    for (const e of entries) if (timingSafeEqual(digest, e.digest) && found === undefined) found = e.principal;
    return presented === undefined ? undefined : found;
  }

  /** `authenticate` as a yes/no. */
  check(header: string | undefined): boolean {
    return this.authenticate(header) !== undefined;
  }

  private keyed(hash: Buffer): Buffer {
    hash.copy(this.scratch, 32);
    const digest = sha256(this.scratch);
    this.scratch.fill(0, 32);
    return digest;
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
const oneShot = (crypto as { hash?: (alg: string, data: string | Buffer, enc: 'buffer') => Buffer }).hash;
function sha256(value: string | Buffer): Buffer {
  return oneShot ? oneShot('sha256', value, 'buffer') : createHash('sha256').update(value).digest();
}
