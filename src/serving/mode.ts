/**
 * What the HTTP server needs from a serving mode (SPEC §5.2). Cached mode answers from an
 * in-memory snapshot (cached.ts); JIT mode (jit.ts) decrypts per request in the pool. The server owns
 * the gate order and headers; a mode only produces bodies or throws an ApiError.
 */

export interface Body {
  readonly contentType: 'application/json' | 'text/plain';
  readonly bytes: Buffer;
  /** Called once the response is finished or aborted (e.g. to release a snapshot reference). */
  readonly release?: () => void;
  /** The ciphertext hash of the artifact the body was made from: what its entity tag derives from (SPEC §10.2). */
  readonly ciphertextHash?: string;
}

export type Readiness = { readonly ready: true } | { readonly ready: false; readonly reason: 'not_loaded' | 'cache_expired' | 'revoked' | 'expired' };

/**
 * What a request may see (SPEC §10.3): `namespaces` undefined means everything (the main token);
 * otherwise only those namespaces — other keys are absent from every body and 404 by name, and a
 * flat payload (no namespaces) shows nothing. `scopeId` identifies the scope (same namespaces, same id).
 */
export interface Scope {
  readonly namespaces?: readonly string[] | undefined;
  readonly scopeId?: string | undefined;
}

/** How `/v1/secrets/:key` answers: `plain` when the client prefers `text/plain` (SPEC §5). */
export interface SecretOptions {
  readonly plain: boolean;
  readonly scope?: Scope | undefined;
}

export interface ServingMode {
  readonly name: 'cached' | 'jit';
  /** `/v1/health`: always 200; reports everything an operator needs. */
  health(): Record<string, unknown>;
  /** `/v1/ready`. */
  ready(): Readiness;
  /**
   * The secrets routes. A mode answers synchronously when it can (cached mode, fresh snapshot:
   * no promise on the hot path) and asynchronously when it must wait (JIT decryption, a refresh).
   * May throw an ApiError synchronously or reject with one.
   */
  secrets(scope?: Scope): Body | Promise<Body>;
  /** One secret: its JSON body, or with `plain` its bare value as `text/plain`. */
  secret(name: string, options: SecretOptions): Body | Promise<Body>;
  keys(scope?: Scope): Body | Promise<Body>;
  /**
   * The ciphertext hash of the artifact a secrets request arriving now would be answered from, when
   * it would be answered at once (state ok, data held); undefined otherwise (not loaded, revoked,
   * expired, past its TTL: the route itself then answers, or first tries its refresh). What a
   * conditional request is checked against, without decrypting (SPEC §10.2).
   */
  servableHash(): string | undefined;
}
