/**
 * Key lookup for `/v1/secrets/:key` (SPEC §5): a qualified name (`ns__KEY`, or `KEY` for flat
 * payloads), `ns/KEY`, or a bare `KEY` found in exactly one namespace. Pure data structure code,
 * used by the main thread in cached mode and by workers in JIT mode.
 */

export interface KeyedEntry {
  readonly qualified: string;
  readonly namespace: string | null;
  readonly key: string;
}

export type Lookup<E> =
  { readonly kind: 'found'; readonly entry: E } | { readonly kind: 'ambiguous'; readonly candidates: readonly string[] } | { readonly kind: 'missing' };

const MISSING = { kind: 'missing' } as const;

export class KeyIndex<E extends KeyedEntry> {
  // Maps, not objects: payload keys like `__proto__` are ordinary keys (SPEC §2.1).
  private readonly byQualified = new Map<string, E[]>();
  private readonly byPath = new Map<string, E>();
  private readonly byBare = new Map<string, E[]>();

  constructor(entries: Iterable<E>) {
    for (const e of entries) {
      push(this.byQualified, e.qualified, e);
      push(this.byBare, e.key, e);
      if (e.namespace !== null) this.byPath.set(`${e.namespace}/${e.key}`, e);
    }
  }

  /** `name` is the decoded remainder of the path after `/v1/secrets/`. */
  lookup(name: string): Lookup<E> {
    if (name.length === 0) return MISSING;
    if (name.includes('/')) {
      const e = this.byPath.get(name);
      if (e) return { kind: 'found', entry: e };
      // Not `ns/KEY`: a key whose own name contains `/` is still found by its name.
    }
    const q = this.byQualified.get(name);
    if (q) {
      // Two entries can share a qualified name (`a__b`/`c` and `a`/`b__c`): the `ns/KEY` form
      // tells them apart, so offer those as candidates.
      if (q.length === 1) return { kind: 'found', entry: q[0] as E };
      return { kind: 'ambiguous', candidates: q.map(pathName).sort() };
    }
    const bare = this.byBare.get(name);
    if (!bare) return MISSING;
    if (bare.length === 1) return { kind: 'found', entry: bare[0] as E };
    return { kind: 'ambiguous', candidates: bare.map((e) => e.qualified).sort() };
  }
}

function pathName(e: KeyedEntry): string {
  return e.namespace === null ? e.key : `${e.namespace}/${e.key}`;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
