import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import type { SnapshotWire, TaskFailure } from '../../common/protocol.js';
import { buildSnapshot, parsePayload } from '../../workers/payload.js';
import { RUNS, spanText } from './helpers.js';

function snapshotOf(json: string): SnapshotWire {
  const p = parsePayload(Buffer.from(json, 'utf8'));
  if ('ok' in p) assert.fail(JSON.stringify(p));
  return buildSnapshot(p);
}

function invalid(json: string | Uint8Array): TaskFailure {
  const p = parsePayload(typeof json === 'string' ? Buffer.from(json, 'utf8') : json);
  if (!('ok' in p)) assert.fail(`expected invalid_payload for ${String(json)}`);
  assert.equal(p.code, 'invalid_payload');
  return p;
}

describe('payload (SPEC §2.1)', () => {
  test('nested payload: bodies, sorted keys, entries, and an arena that owns its buffer', () => {
    const s = snapshotOf('{"app":{"DB_URL":"postgres://x","API_KEY":"k1"},"payments":{"STRIPE":"sk_é"}}');
    assert.equal(spanText(s.arena, s.secrets), '{"app":{"DB_URL":"postgres://x","API_KEY":"k1"},"payments":{"STRIPE":"sk_é"}}');
    assert.deepEqual(JSON.parse(spanText(s.arena, s.keys)), ['app__API_KEY', 'app__DB_URL', 'payments__STRIPE']);
    const stripe = s.entries.find((e) => e.qualified === 'payments__STRIPE');
    assert.ok(stripe);
    assert.equal(stripe.namespace, 'payments');
    assert.equal(stripe.key, 'STRIPE');
    assert.deepEqual(JSON.parse(spanText(s.arena, stripe.json)), { key: 'payments__STRIPE', value: 'sk_é' });
    assert.equal(spanText(s.arena, stripe.value), 'sk_é');
    assert.equal(s.arena.byteOffset, 0);
    assert.equal(s.arena.buffer.byteLength, s.arena.byteLength);
  });

  test('flat payload: bare qualified names, null namespace', () => {
    const s = snapshotOf('{"B":"2","A":"1"}');
    assert.deepEqual(JSON.parse(spanText(s.arena, s.keys)), ['A', 'B']);
    assert.equal(spanText(s.arena, s.secrets), '{"B":"2","A":"1"}');
    assert.deepEqual(
      s.entries.map((e) => [e.qualified, e.namespace]),
      [
        ['B', null],
        ['A', null],
      ],
    );
  });

  test('{} is valid and empty', () => {
    const s = snapshotOf('{}');
    assert.equal(spanText(s.arena, s.secrets), '{}');
    assert.equal(spanText(s.arena, s.keys), '[]');
    assert.equal(s.entries.length, 0);
  });

  test('__proto__ and constructor are ordinary keys and touch no prototype', () => {
    const s = snapshotOf('{"__proto__":{"constructor":"c","polluted":"yes"},"constructor":{"prototype":"p"}}');
    assert.deepEqual(JSON.parse(spanText(s.arena, s.keys)), ['__proto____constructor', '__proto____polluted', 'constructor__prototype']);
    const polluted = s.entries.find((e) => e.qualified === '__proto____polluted');
    assert.ok(polluted);
    assert.equal(spanText(s.arena, polluted.value), 'yes');
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    const back = JSON.parse(spanText(s.arena, s.secrets)) as Record<string, unknown>;
    assert.ok(Object.hasOwn(back, '__proto__'));
    const flat = snapshotOf('{"__proto__":"x","constructor":"y"}');
    assert.deepEqual(JSON.parse(spanText(flat.arena, flat.keys)), ['__proto__', 'constructor']);
  });

  test('invalid payloads name the key but never the value', () => {
    assert.match(invalid('{"app":{"PORT":8080}}').message, /"app" \/ "PORT" must be a string \(found a number\)/);
    assert.match(invalid('{"app":{"DEEP":{"x":"SECRETVALUE"}}}').message, /"DEEP" must be a string \(found an object: payloads nest at most one level\)/);
    const mixed = invalid('{"A":"SECRETVALUE","ns":{"K":"v"}}');
    assert.match(mixed.message, /mixes/);
    assert.match(mixed.message, /"A"/);
    assert.match(invalid('["SECRETVALUE"]').message, /must be a JSON object .*\(found an array\)/);
    assert.match(invalid('"SECRETVALUE"').message, /\(found a string\)/);
    assert.match(invalid('{"A":["SECRETVALUE"]}').message, /"A" must be a namespace object or a string \(found an array\)/);
    assert.match(invalid('{"ns":["SECRETVALUE"]}').message, /"ns" must be a namespace object or a string \(found an array\)/);
    assert.match(invalid('{"A":null}').message, /"A" must be a namespace object or a string \(found null\)/);
    assert.match(invalid('{"A":"SECRETVALUE",').message, /not valid UTF-8 JSON/);
    assert.match(invalid(Uint8Array.from([0x7b, 0xc3, 0x7d])).message, /not valid/);
    for (const j of ['{"app":{"PORT":8080}}', '{"A":"SECRETVALUE","ns":{"K":"v"}}', '{"app":{"DEEP":{"x":"SECRETVALUE"}}}']) {
      assert.doesNotMatch(invalid(j).message, /SECRETVALUE|8080/);
    }
  });

  test('two keys with the same qualified name are both kept (the main thread disambiguates by ns/KEY)', () => {
    const s = snapshotOf('{"a__b":{"c":"1"},"a":{"b__c":"2"}}');
    assert.deepEqual(JSON.parse(spanText(s.arena, s.keys)), ['a__b__c', 'a__b__c']);
    assert.deepEqual(
      s.entries.map((e) => [e.namespace, e.key, e.qualified, spanText(s.arena, e.value)]),
      [
        ['a__b', 'c', 'a__b__c', '1'],
        ['a', 'b__c', 'a__b__c', '2'],
      ],
    );
  });

  test('property: arbitrary nested string maps round-trip through the arena', () => {
    const name = fc.oneof(
      fc.string({ minLength: 1, maxLength: 8, unit: fc.constantFrom('a', 'B', '_', '1', 'é', '😀', '"', '\\', '_', '_') }),
      fc.constantFrom('__proto__', 'constructor', 'toString'),
    );
    const value = fc.string({ maxLength: 30, unit: 'binary' });
    const nested = fc.dictionary(name, fc.dictionary(name, value, { maxKeys: 5 }), { minKeys: 1, maxKeys: 5 });
    const flat = fc.dictionary(name, value, { maxKeys: 8 });
    fc.assert(
      fc.property(fc.oneof(nested, flat), (generated) => {
        const json = JSON.stringify(generated);
        // The reference: what any JSON reader makes of the payload (own keys, ordinary objects).
        const obj = JSON.parse(json) as unknown;
        const p = parsePayload(Buffer.from(json, 'utf8'));
        if ('ok' in p) assert.fail(p.message);
        const s = buildSnapshot(p);
        assert.deepEqual(JSON.parse(spanText(s.arena, s.secrets)), obj);
        const names = JSON.parse(spanText(s.arena, s.keys)) as string[];
        assert.deepEqual(names, [...names].sort());
        assert.equal(names.length, s.entries.length);
        for (const e of s.entries) {
          const own = (o: unknown, k: string): unknown => (Object.hasOwn(o as object, k) ? (o as Record<string, unknown>)[k] : undefined);
          const expected = (e.namespace === null ? own(obj, e.key) : own(own(obj, e.namespace), e.key)) as string | undefined;
          assert.equal(typeof expected, 'string');
          assert.deepEqual(JSON.parse(spanText(s.arena, e.json)), { key: e.qualified, value: expected });
          assert.equal(spanText(s.arena, e.value), Buffer.from(expected ?? '', 'utf8').toString('utf8'));
        }
      }),
      { numRuns: RUNS },
    );
  });
});
