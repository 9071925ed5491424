/**
 * Key lookup for `/v1/secrets/:key` (SPEC §5, common/keys.ts): qualified names, `ns/KEY`, bare keys
 * found in exactly one namespace, and `__proto__`-style names as ordinary keys (SPEC §2.1).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { KeyIndex, type KeyedEntry } from '../../common/keys.js';
import { qualifiedName } from '../../common/artifact.js';

interface Entry extends KeyedEntry {
  readonly id: number;
}

let nextId = 0;
function entry(namespace: string | null, key: string): Entry {
  return { qualified: qualifiedName(namespace, key), namespace, key, id: nextId++ };
}

/** The entries a nested payload produces, in payload order. */
function nested(payload: Record<string, readonly string[]>): Entry[] {
  return Object.entries(payload).flatMap(([ns, keys]) => keys.map((k) => entry(ns, k)));
}

function found(index: KeyIndex<Entry>, name: string): Entry {
  const r = index.lookup(name);
  assert.equal(r.kind, 'found', `expected ${JSON.stringify(name)} to be found, got ${JSON.stringify(r)}`);
  return (r as { entry: Entry }).entry;
}

describe('§5 KeyIndex: nested payloads', { timeout: 30_000 }, () => {
  const entries = nested({ app: ['DATABASE_URL', 'API_KEY'], payments: ['STRIPE_KEY', 'API_KEY'] });
  const index = new KeyIndex(entries);
  const [dbUrl, appApi, stripe, payApi] = entries as [Entry, Entry, Entry, Entry];

  it('§5 /v1/secrets/:key: a qualified name <ns>__<KEY> finds the entry', () => {
    assert.equal(found(index, 'app__DATABASE_URL'), dbUrl);
    assert.equal(found(index, 'payments__API_KEY'), payApi);
  });

  it('§5 /v1/secrets/:key: ns/KEY finds the entry', () => {
    assert.equal(found(index, 'app/API_KEY'), appApi);
    assert.equal(found(index, 'payments/STRIPE_KEY'), stripe);
  });

  it('§5 /v1/secrets/:key: a bare KEY found in exactly one namespace finds it', () => {
    assert.equal(found(index, 'DATABASE_URL'), dbUrl);
    assert.equal(found(index, 'STRIPE_KEY'), stripe);
  });

  it('§5 409: a bare KEY in several namespaces is ambiguous, with the sorted qualified candidates', () => {
    assert.deepEqual(index.lookup('API_KEY'), { kind: 'ambiguous', candidates: ['app__API_KEY', 'payments__API_KEY'] });
  });

  it('§5 404: unknown names, wrong namespaces, empty names and case variants are missing', () => {
    for (const name of [
      'NOPE',
      'app__NOPE',
      'app/NOPE',
      'nope/API_KEY',
      'payments/DATABASE_URL',
      '',
      'api_key',
      'APP__API_KEY',
      'app',
      'app/',
      '/API_KEY',
      'app/API_KEY/x',
      'app__',
      '__API_KEY',
    ]) {
      assert.deepEqual(index.lookup(name), { kind: 'missing' }, name);
    }
  });

  it('§5: two entries sharing a qualified name (a__b/c and a/b__c) are ambiguous by it and told apart by ns/KEY', () => {
    const [x, y] = [entry('a__b', 'c'), entry('a', 'b__c')];
    const idx = new KeyIndex([x, y]);
    assert.deepEqual(idx.lookup('a__b__c'), { kind: 'ambiguous', candidates: ['a/b__c', 'a__b/c'] });
    assert.equal(found(idx, 'a__b/c'), x);
    assert.equal(found(idx, 'a/b__c'), y);
  });

  it('§5: a qualified name wins over a bare key of the same spelling', () => {
    const q = entry('a', 'B'); // a__B
    const bare = entry('other', 'a__B'); // other__a__B, bare key a__B
    const idx = new KeyIndex([q, bare]);
    assert.equal(found(idx, 'a__B'), q);
    assert.equal(found(idx, 'other/a__B'), bare);
  });
});

describe('§5 KeyIndex: flat payloads', { timeout: 30_000 }, () => {
  const entries = [entry(null, 'API_KEY'), entry(null, 'DATABASE_URL')];
  const index = new KeyIndex(entries);

  it('§2.1 flat: the bare KEY is the qualified name and finds the entry', () => {
    assert.equal(found(index, 'API_KEY'), entries[0]);
    assert.equal(found(index, 'DATABASE_URL'), entries[1]);
  });

  it('§2.1 flat: there is no ns/KEY form', () => {
    assert.deepEqual(index.lookup('null/API_KEY'), { kind: 'missing' });
    assert.deepEqual(index.lookup('/API_KEY'), { kind: 'missing' });
  });

  it('§2.1 {}: an empty payload finds nothing', () => {
    const empty = new KeyIndex<Entry>([]);
    for (const name of ['', 'x', 'a/b', '__proto__', 'constructor']) assert.deepEqual(empty.lookup(name), { kind: 'missing' });
  });
});

describe('§2.1 KeyIndex: prototype-ish names are ordinary keys', { timeout: 30_000 }, () => {
  const proto = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'];

  it('§2.1: absent prototype names are missing, not Object.prototype members', () => {
    const idx = new KeyIndex([entry('app', 'X')]);
    for (const name of proto) assert.deepEqual(idx.lookup(name), { kind: 'missing' }, name);
    for (const name of proto) assert.deepEqual(idx.lookup(`${name}/X`), { kind: 'missing' }, name);
  });

  it('§2.1: __proto__, constructor & co. as flat keys are found by name', () => {
    const entries = proto.map((k) => entry(null, k));
    const idx = new KeyIndex(entries);
    proto.forEach((k, i) => assert.equal(found(idx, k), entries[i]));
  });

  it('§2.1: __proto__ and constructor as namespaces and keys are found in every form', () => {
    const a = entry('__proto__', 'constructor');
    const b = entry('constructor', '__proto__');
    const idx = new KeyIndex([a, b]);
    assert.equal(found(idx, '__proto____constructor'), a);
    assert.equal(found(idx, '__proto__/constructor'), a);
    assert.equal(found(idx, 'constructor/__proto__'), b);
    assert.equal(found(idx, 'constructor____proto__'), b);
    // Bare forms: each key is unique.
    assert.equal(found(idx, 'constructor'), a);
    assert.equal(found(idx, '__proto__'), b);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
});

// ---- properties ----

/** Names as payloads use them: non-empty, any Unicode, but no '/' (the ns/KEY separator). */
const name = fc
  .oneof(
    fc.string({ unit: 'grapheme-ascii', minLength: 1, maxLength: 8 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 6 }),
    fc.constantFrom('__proto__', 'constructor', 'toString', '_', '__', 'A__B', 'KEY', 'app'),
    fc.stringMatching(/^[a-c_]{1,5}$/),
  )
  .filter((s) => !s.includes('/'));

/** A nested payload: unique (namespace, key) pairs, from a small alphabet so collisions happen. */
const nestedEntries = fc
  .uniqueArray(fc.tuple(name, name), { maxLength: 25, selector: ([ns, k]) => `${ns}\u0000${k}` })
  .map((pairs) => pairs.map(([ns, k]) => entry(ns, k)));
const flatEntries = fc.uniqueArray(name, { maxLength: 25 }).map((keys) => keys.map((k) => entry(null, k)));
const anyEntries = fc.oneof(nestedEntries, flatEntries);

describe('§5 KeyIndex properties (fast-check)', { timeout: 30_000 }, () => {
  it('§5 property: every entry is found by its qualified name unless another entry shares it (then: ambiguous, with ns/KEY candidates)', () => {
    fc.assert(
      fc.property(anyEntries, (entries) => {
        const idx = new KeyIndex(entries);
        for (const e of entries) {
          const sharing = entries.filter((o) => o.qualified === e.qualified);
          const r = idx.lookup(e.qualified);
          if (sharing.length === 1) assert.deepEqual(r, { kind: 'found', entry: e });
          else {
            assert.equal(r.kind, 'ambiguous');
            const want = sharing.map((o) => (o.namespace === null ? o.key : `${o.namespace}/${o.key}`)).sort();
            assert.deepEqual((r as { candidates: readonly string[] }).candidates, want);
          }
        }
      }),
    );
  });

  it('§5 property: every nested entry is always found by ns/KEY', () => {
    fc.assert(
      fc.property(nestedEntries, (entries) => {
        const idx = new KeyIndex(entries);
        for (const e of entries) assert.deepEqual(idx.lookup(`${e.namespace}/${e.key}`), { kind: 'found', entry: e });
      }),
    );
  });

  it("§5 property: a bare key (that is nobody's qualified name) is found iff it is in exactly one namespace, else ambiguous", () => {
    fc.assert(
      fc.property(nestedEntries, (entries) => {
        const idx = new KeyIndex(entries);
        const qualified = new Set(entries.map((e) => e.qualified));
        for (const e of entries) {
          if (qualified.has(e.key)) continue; // qualified names take precedence (tested above)
          const same = entries.filter((o) => o.key === e.key);
          const r = idx.lookup(e.key);
          if (same.length === 1) assert.deepEqual(r, { kind: 'found', entry: e });
          else assert.deepEqual(r, { kind: 'ambiguous', candidates: same.map((o) => o.qualified).sort() });
        }
      }),
    );
  });

  it('§5 property: a name matching no entry in any form is missing', () => {
    fc.assert(
      fc.property(anyEntries, fc.string({ unit: 'binary', maxLength: 12 }), (entries, probe) => {
        const idx = new KeyIndex(entries);
        const matches = entries.some((e) => e.qualified === probe || e.key === probe || (e.namespace !== null && `${e.namespace}/${e.key}` === probe));
        if (!matches) assert.deepEqual(idx.lookup(probe), { kind: 'missing' });
      }),
    );
  });

  it('§5 property: lookup never throws on arbitrary strings and answers one of found/ambiguous/missing', () => {
    const anyString = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 40 }),
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.stringMatching(/^[a-z_/]{0,12}$/),
    );
    fc.assert(
      fc.property(anyEntries, anyString, (entries, probe) => {
        const r = new KeyIndex(entries).lookup(probe);
        assert.ok(r.kind === 'found' || r.kind === 'ambiguous' || r.kind === 'missing');
        if (r.kind === 'found') assert.ok(entries.includes(r.entry));
        if (r.kind === 'ambiguous') assert.ok(r.candidates.length >= 2);
      }),
      { numRuns: 300 },
    );
  });

  it('§5 property: lookups answer the same before and after other lookups (no hidden state)', () => {
    fc.assert(
      fc.property(anyEntries, fc.array(fc.string({ maxLength: 10 }), { maxLength: 10 }), (entries, probes) => {
        const idx = new KeyIndex(entries);
        const first = probes.map((p) => idx.lookup(p));
        const second = probes.map((p) => idx.lookup(p));
        assert.deepEqual(second, first);
      }),
    );
  });
});
