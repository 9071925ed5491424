/**
 * Escaped member names (common/payload-value.ts): JSON.parse on Node ≥ 24 can decode them wrongly
 * after earlier parses; the payload path must give the right names and values whatever the runtime.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { readPayloadValue } from '../../common/payload-value.js';
import { parseChecked, parsePayload } from '../../workers/payload.js';
import { secretByScan } from '../../workers/serve.js';
import { RUNS } from './helpers.js';

const text = (s: string): Buffer => Buffer.from(s, 'utf8');

function keysOf(json: string): string[] {
  const p = parsePayload(text(json));
  if ('ok' in p) assert.fail(`${json}: ${p.message}`);
  assert.equal(p.kind, 'flat');
  return p.kind === 'flat' ? [...p.keys.keys()] : [];
}

/** A JSON string literal of `s` with every character escaped as `\uXXXX`, or short-escaped. */
function escapedLiteral(s: string, short: boolean): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const shortForm = c === 0x22 ? '\\"' : c === 0x5c ? '\\\\' : c === 0x0a ? '\\n' : c === 0x2f ? '\\/' : undefined;
    out += short && shortForm !== undefined ? shortForm : `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `${out}"`;
}

describe('escaped member names are read without JSON.parse', () => {
  test('after a payload with a "\\\\" key, "\\u0061" is still the key "a" (on Node 26, JSON.parse says "\\\\")', () => {
    assert.deepEqual(keysOf('{"\\\\":"1"}'), ['\\']);
    assert.deepEqual(keysOf('{"\\u0061":"2"}'), ['a']);
    assert.deepEqual(keysOf('{"h":"1","\\\\":"x"}'), ['h', '\\']);
    assert.deepEqual(keysOf('{"h":"1","\\"":"2"}'), ['h', '"']);
    // And through the JIT single-key path: the scan decodes names itself, the fallback reads them here.
    const answer = secretByScan(text('{"\\u0061":"2"}'), { route: 'secret', name: 'a', plain: true }, 100);
    assert.ok(answer.ok && answer.status === 200);
    assert.equal(Buffer.from(answer.body).toString('utf8'), '2');
  });

  test('a repeated escaped name is still found and refused', () => {
    const p = parsePayload(text('{"\\u0062":"1","\\u0062":"2","\\u005C":""}'));
    assert.ok('ok' in p);
    assert.match(p.message, /names key "b" more than once/);
  });

  test('the reader keeps JSON.parse semantics: __proto__ is an own member, index-like names come first, stand-ins for deeper values', () => {
    const r = readPayloadValue(
      text('\ufeff {"__proto__":{"\\u0062":"x"},"2":{},"1":{"k":[1,{"d":2}],"n":null,"t":true,"f":false,"x":-1.5e3,"o":{"deep":{}}}} '),
    );
    assert.ok(r !== null);
    const v = r.value as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(v), ['1', '2', '__proto__']);
    assert.equal(Object.getPrototypeOf(v), null);
    assert.deepEqual(Object.keys(v['__proto__'] ?? {}), ['b']);
    const one = v['1'] ?? {};
    assert.ok(Array.isArray(one['k']));
    assert.equal(one['n'], null);
    assert.equal(one['t'], true);
    assert.equal(one['f'], false);
    assert.equal(one['x'], -1500);
    assert.equal(typeof one['o'], 'object');
    // Not UTF-8 JSON: null, as parseJsonBytes says.
    for (const bad of ['', '{', '{"a":"1",}', '{"a":"\\x"}', '{"a":"1"} x', '\ufeff\ufeff{}']) assert.equal(readPayloadValue(text(bad)), null, bad);
    assert.equal(readPayloadValue(Uint8Array.from([0x7b, 0x22, 0xc3, 0x22, 0x3a, 0x22, 0x22, 0x7d])), null);
  });

  test('property: any payload written with escaped names reads back as the value it was written from', () => {
    const name = fc.string({ maxLength: 4, unit: fc.constantFrom('a', 'b', '"', '\\', '/', '\n', 'é', '😀', '\ud800', '1', '0', '_') });
    const leaf = fc.string({ maxLength: 4 });
    const payloadArb = fc.oneof(fc.dictionary(name, leaf, { maxKeys: 5 }), fc.dictionary(name, fc.dictionary(name, leaf, { maxKeys: 4 }), { maxKeys: 4 }));
    fc.assert(
      fc.property(payloadArb, fc.boolean(), (payload, short) => {
        const write = (o: Record<string, unknown>): string =>
          `{${Object.keys(o)
            .map((k) => `${escapedLiteral(k, short)}:${typeof o[k] === 'string' ? JSON.stringify(o[k]) : write(o[k] as Record<string, unknown>)}`)
            .join(',')}}`;
        const json = write(payload);
        const r = readPayloadValue(text(json));
        assert.ok(r !== null, json);
        assert.equal(JSON.stringify(r.value), JSON.stringify(payload), json);
        // And the worker's parse agrees, whichever route it takes.
        const p = parseChecked(text(json));
        const q = parsePayload(text(json));
        assert.deepEqual(p, q);
      }),
      { numRuns: RUNS },
    );
  });
});
