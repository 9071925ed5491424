/**
 * Repeated names are refused (common/payload-names.ts): the finder itself, the count comparison
 * the workers use to notice a repeat cheaply, and the V8 behaviour that made the rule necessary.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { findRepeatedName } from '../../common/payload-names.js';
import { parsePayload } from '../../workers/payload.js';
import { RUNS } from './helpers.js';

const text = (s: string): Buffer => Buffer.from(s, 'utf8');

function refusal(json: string): string {
  const p = parsePayload(text(json));
  if (!('ok' in p)) assert.fail(`expected a refusal for ${json}`);
  assert.equal(p.code, 'invalid_payload');
  return p.message;
}

describe('repeated names in a payload', () => {
  test('the finder names the first repeat and where it is, however the names are escaped', () => {
    const cases: [string, { namespace: string | null; name: string } | null][] = [
      ['{}', null],
      ['{"A":"1","B":"2"}', null],
      ['{"a":{"K":"1"},"b":{"K":"2"}}', null],
      ['{"A":"1","A":"2"}', { namespace: null, name: 'A' }],
      ['{"A":"1","\\u0041":"2"}', { namespace: null, name: 'A' }],
      ['{"a":{"K":"1","L":"2","K":"3"}}', { namespace: 'a', name: 'K' }],
      ['{"a":{"😀":"1","\\ud83d\\ude00":"2"}}', { namespace: 'a', name: '😀' }],
      ['{"a":{"K":"1"},"a":{"L":"2"}}', { namespace: null, name: 'a' }],
      ['{"a":{},"b":{},"a":{}}', { namespace: null, name: 'a' }],
      ['\ufeff { "a" : { "K" : "1" , "K" : "2" } } ', { namespace: 'a', name: 'K' }],
      // Deeper levels are the shape check's business, and malformed text the parser's.
      ['{"a":{"K":{"x":"1","x":"2"}}}', null],
      ['{"A":"1","A"', null],
      ['[]', null],
    ];
    for (const [json, expected] of cases) assert.deepEqual(findRepeatedName(text(json)), expected, json);
  });

  test('the agent refuses a repeat with what and where, never a value', () => {
    assert.equal(
      refusal('{"A":"secret-1","A":"secret-2"}'),
      'the decrypted payload names key "A" more than once; every name must be unique (which of two values a JSON parser keeps is not reliable)',
    );
    assert.match(refusal('{"app":{"K":"secret-1","K":"secret-2"}}'), /names key "K" more than once in namespace "app"/);
    assert.match(refusal('{"app":{"K":"secret-1"},"app":{"L":"secret-2"}}'), /names namespace "app" more than once/);
    // A repeat that leaves no trace in the parsed result is still found by the counts.
    assert.match(refusal('{"app":{"K":"secret-1"},"app":{"K":"secret-1"}}'), /names namespace "app" more than once/);
    // Repeats JSON.parse would have resolved into a valid payload.
    assert.match(refusal('{"A":1,"A":"x"}'), /names key "A" more than once/);
    assert.match(refusal('{"a":"x","a":{"K":"v"}}'), /names namespace "a" more than once/);
    for (const json of ['{"A":"secret-1","A":"secret-2"}', '{"app":{"K":"secret-1","K":"secret-2"}}']) assert.doesNotMatch(refusal(json), /secret-/);
  });

  test('Node 26.10 JSON.parse keeps the first value on a second parse of the same text: the agent refuses either way', (t) => {
    // Found by the scanner property test on the Node 26 CI leg. On Node 20 both parses agree; the
    // refusal must hold on every parse, whatever this V8 does.
    const json = String.raw`{"\u0062":"1","\u0062":"2","\u005C":""}`;
    const parses = new Set<string>();
    for (let i = 0; i < 5; i++) {
      parses.add(JSON.stringify(JSON.parse(json)));
      assert.match(refusal(json), /names key "b" more than once/);
    }
    // Record what this runtime does, so a reader of the output can see it.
    t.diagnostic(`JSON.parse results on ${process.version}: ${[...parses].join(' | ')}`);
  });

  test('property: a payload without repeats is never refused for one, and any written repeat is', () => {
    const name = fc.string({ maxLength: 3, unit: fc.constantFrom('a', 'b', '_', 'é', '😀', '\\', '"') });
    fc.assert(
      fc.property(fc.array(fc.tuple(name, fc.array(name, { maxLength: 4 })), { maxLength: 4 }), (spaces) => {
        const json = `{${spaces.map(([ns, keys]) => `${JSON.stringify(ns)}:{${keys.map((k, i) => `${JSON.stringify(k)}:"v${i}"`).join(',')}}`).join(',')}}`;
        const repeat = new Set(spaces.map(([ns]) => ns)).size !== spaces.length || spaces.some(([, keys]) => new Set(keys).size !== keys.length);
        const p = parsePayload(text(json));
        if (repeat) {
          assert.ok(!('kind' in p), json);
          assert.match(p.message, /more than once/, json);
        } else {
          assert.ok('kind' in p, json);
        }
        assert.equal(findRepeatedName(text(json)) !== null, repeat, json);
      }),
      { numRuns: RUNS },
    );
  });
});
