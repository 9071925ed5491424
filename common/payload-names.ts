/**
 * Repeated names in a payload's JSON text (SPEC §2.1). JSON leaves duplicate names to the parser,
 * and `JSON.parse` is not a parser to trust with them: ECMAScript says the last one wins, but
 * Node 26.10's V8 was seen keeping the *first* value when it parsed the same text a second time
 * (test/workers/payload-names.test.ts replays it). A secret whose value depends on which parse
 * ran must not be served, so a payload that names a key or a namespace twice is refused — by the
 * agent on every load and by `pack` before it encrypts.
 *
 * This walk decodes every name, so the workers call it only once a cheap count says a repeat
 * exists (workers/payload.ts); pack, which runs once per file, calls it always.
 */
import { JsonCursor, OPEN, QUOTE } from './json-cursor.js';

/** Where a name repeats: a top-level name (`namespace` null), or a key inside `namespace`. */
export interface RepeatedName {
  readonly namespace: string | null;
  readonly name: string;
}

/**
 * The first repeated name in the payload-shaped JSON `bytes` (a top-level object whose members
 * are strings or objects), or null. Only those two levels are looked at; anything deeper or
 * malformed is the shape check's and the parser's to refuse, and ends the search with null.
 */
export function findRepeatedName(bytes: Uint8Array): RepeatedName | null {
  return new NameWalk(bytes).run();
}

class NameWalk extends JsonCursor {
  run(): RepeatedName | null {
    const b = this.b;
    if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) this.p = 3;
    this.ws();
    return b[this.p] === OPEN ? this.object(null) : null;
  }

  /** One object's members; `namespace` is null at the top level, where objects are namespaces. */
  private object(namespace: string | null): RepeatedName | null {
    const seen = new Set<string>();
    let found: RepeatedName | null = null;
    this.eachMember((name) => {
      if (seen.has(name)) {
        found = { namespace, name };
        return false;
      }
      seen.add(name);
      if (namespace === null && this.b[this.p] === OPEN) {
        found = this.object(name);
        return found === null;
      }
      return this.b[this.p] === QUOTE ? this.string() : this.skipValue();
    });
    return found;
  }
}
