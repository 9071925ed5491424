/**
 * Entity tags of the secrets routes (SPEC §10.2). A tag names one representation of one artifact:
 * SHA-256 over the artifact's ciphertext hash and what the route answers (route, key as sent,
 * JSON or text/plain, the token's scope). It is derived from ciphertext only, so it says nothing
 * about the values: two artifacts holding equal values under different ciphertext (every pack
 * encrypts afresh) get different tags, and a tag cannot be matched against a guessed value.
 * Computed on the main thread from the verified artifact's metadata, so JIT mode can answer a
 * matching `If-None-Match` without a worker task.
 */
import { createHash } from 'node:crypto';
import { ETAG_CACHE_ENTRIES } from '../../common/limits.js';

/** The routes that carry a tag. */
export type TaggedRoute = 'secrets' | 'secret' | 'keys';

/** What a 200 is a representation of, besides the artifact. */
export interface Representation {
  readonly route: TaggedRoute;
  /** `secret` only: the key as the client named it (`ns__KEY`, `ns/KEY` or a bare `KEY`). */
  readonly key?: string | undefined;
  /** `secret` only: the bare value as `text/plain` instead of the JSON object. */
  readonly plain?: boolean | undefined;
  /**
   * Who is asking, when that changes the answer (a scoped token sees only its namespaces): two
   * scopes get different tags for the same route. Undefined: the whole payload.
   */
  readonly scope?: string | undefined;
}

/** Bumped if the tag's input ever changes, so old tags cannot match new ones by accident. */
const TAG_VERSION = 'clef-etag-v1';

/**
 * The strong entity tag (RFC 9110 §8.8.3) of `r` served from the artifact whose `ciphertextHash`
 * this is: a quoted base64url SHA-256. The input is a JSON array, so no two inputs share an encoding
 * whatever characters a key name holds.
 */
export function entityTag(ciphertextHash: string, r: Representation): string {
  const input = JSON.stringify([
    TAG_VERSION,
    ciphertextHash,
    r.route,
    r.route === 'secret' ? (r.key ?? '') : null,
    r.plain === true ? 'text' : 'json',
    r.scope ?? null,
  ]);
  return `"${createHash('sha256').update(input).digest('base64url')}"`;
}

/**
 * Tags of the current revision, each hashed once: the hot path pays a map lookup. A new ciphertext
 * hash starts the cache over; so does passing ETAG_CACHE_ENTRIES (key names come from clients).
 */
export class EntityTags {
  private hash: string | undefined;
  private readonly tags = new Map<string, string>();
  /** The two whole-payload routes, unscoped: the commonest tags, kept without building a map key. */
  private secretsTag: string | undefined;
  private keysTag: string | undefined;

  tag(ciphertextHash: string, r: Representation): string {
    if (ciphertextHash !== this.hash) {
      this.tags.clear();
      this.secretsTag = this.keysTag = undefined;
      this.hash = ciphertextHash;
    }
    if (r.scope === undefined) {
      if (r.route === 'secrets') return (this.secretsTag ??= entityTag(ciphertextHash, r));
      if (r.route === 'keys') return (this.keysTag ??= entityTag(ciphertextHash, r));
    }
    const k = cacheKey(r);
    let t = this.tags.get(k);
    if (t === undefined) {
      t = entityTag(ciphertextHash, r);
      if (this.tags.size >= ETAG_CACHE_ENTRIES) this.tags.clear();
      this.tags.set(k, t);
    }
    return t;
  }
}

/** Unambiguous: the scope is length-prefixed, and the key (any characters) comes last. */
function cacheKey(r: Representation): string {
  const scope = r.scope === undefined ? '-' : `${r.scope.length}:${r.scope}`;
  return r.route === 'secret' ? `secret ${r.plain === true ? 't' : 'j'} ${scope} ${r.key ?? ''}` : `${r.route} ${scope}`;
}

/**
 * Whether an `If-None-Match` field value matches `tag` (RFC 9110 §13.1.2): `*` matches any current
 * representation; otherwise a comma-separated list of entity tags compared weakly (`W/"x"` matches
 * `"x"`), as If-None-Match requires. Members that are not entity tags match nothing. Node joins
 * repeated header lines with ", ", which is the same list.
 */
export function ifNoneMatchHits(field: string, tag: string): boolean {
  if (field.trim() === '*') return true;
  // Our tags hold no comma or quote (base64url), so a split on commas is exact for them.
  for (const member of field.split(',')) {
    let m = member.trim();
    if (m.startsWith('W/')) m = m.slice(2);
    if (m === tag) return true;
  }
  return false;
}
