/**
 * The one-pass payload scanner (workers/scan.ts) against the full parser it stands in for
 * (parsePayload + KeyIndex, the JIT `/v1/secrets/:key` path before the scanner): same verdict on
 * what is valid, same answer, byte for byte, for any name — escapes, surrogate pairs, lone
 * surrogates, repeated names (refused), `__proto__`, array-index names and odd formatting included.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseJsonBytes } from '../../common/json.js';
import type { ServeResult } from '../../common/protocol.js';
import { parseChecked, parsePayload } from '../../workers/payload.js';
import { scanPayload } from '../../workers/scan.js';
import { secretByIndex, secretByScan } from '../../workers/serve.js';
import { RUNS } from './helpers.js';

const NO_LIMIT = Number.MAX_SAFE_INTEGER;

/** What the full parser answers: the oracle. */
function byIndex(bytes: Uint8Array, name: string, plain: boolean): ServeResult {
  const payload = parsePayload(bytes, NO_LIMIT);
  return 'ok' in payload ? payload : secretByIndex(payload, { route: 'secret', name, plain });
}

/** The full check refuses a name written twice (common/payload-names.ts). */
function repeated(r: ServeResult): boolean {
  return !r.ok && r.code === 'invalid_payload' && r.message.includes('more than once');
}

function comparable(r: ServeResult): unknown {
  if (!r.ok) return { code: r.code, message: r.message };
  if (r.status === 200) return { status: 200, contentType: r.contentType, body: Buffer.from(r.body).toString('hex') };
  return r;
}

function agree(bytes: Uint8Array, name: string): void {
  const scan = scanPayload(bytes, name);
  for (const plain of [false, true]) {
    const oracle = byIndex(bytes, name, plain);
    const answer = secretByScan(bytes, { route: 'secret', name, plain }, NO_LIMIT);
    // A repeat of some other name is invisible to a one-name scan: such a payload never reaches JIT
    // serving (the load task refused it), so the scan may answer from it. A repeat of the name asked
    // for, or of its namespace, the scan does see: it hands over to the full check, which refuses.
    if (repeated(oracle) && scan.verdict === 'ok' && !repeated(answer)) continue;
    assert.deepEqual(comparable(answer), comparable(oracle), `name ${JSON.stringify(name)} in ${Buffer.from(bytes).toString('utf8')}`);
  }
  // The scanner's own verdict: a syntax error exactly when the text is not UTF-8 JSON, and `ok` only
  // for what the full check accepts, repeated names aside (anything else took the fallback above).
  assert.equal(scan.verdict === 'syntax', parseJsonBytes(bytes) === null, 'syntax verdict');
  if (scan.verdict === 'ok') {
    const full = parsePayload(bytes, NO_LIMIT);
    assert.ok(!('ok' in full) || full.message.includes('more than once'), 'scanner accepted an invalid payload');
  }
}

const text = (s: string): Buffer => Buffer.from(s, 'utf8');

// ── Generators: payload text with duplicates, escapes and formatting JSON.stringify never writes ──

const unit = fc.constantFrom('a', 'B', '_', '/', '1', '0', 'é', '😀', '"', '\\', '\n', '\u0000', '\u2028', '\ud800', '\udc00');
const nameArb = fc.oneof(
  fc.string({ maxLength: 5, unit }),
  fc.constantFrom('__proto__', 'constructor', 'a__b', 'a/b', '4294967294', '4294967295', '01', '7', 'a', 'b'),
);

/** A JSON string literal of `s`: each character as is, short-escaped, or `\uXXXX` (either case). */
function literal(s: string, escapes: readonly number[]): string {
  let out = '"';
  let i = 0;
  for (const ch of s) {
    const choice = escapes[i++ % escapes.length] ?? 0;
    const u = (upper: boolean): string =>
      [...Array(ch.length).keys()]
        .map((k) => `\\u${ch.charCodeAt(k).toString(16).padStart(4, '0')}`)
        .map((e) => (upper ? e.toUpperCase().replace('\\U', '\\u') : e))
        .join('');
    if (choice === 1) out += u(false);
    else if (choice === 2) out += ch === '/' ? '\\/' : u(true);
    else out += JSON.stringify(ch).slice(1, -1);
  }
  return out + '"';
}

const WS = ['', ' ', '\n', '\t ', '\r\n'];
const wsArb = fc.constantFrom(...WS);

interface Member {
  readonly name: string;
  readonly value: string | readonly (readonly [string, string | number | null])[];
}

const leafArb = fc.oneof({ weight: 8, arbitrary: fc.string({ maxLength: 6, unit }) }, { weight: 1, arbitrary: fc.constantFrom(1, null) });
const nsArb = fc.array(fc.tuple(nameArb, leafArb), { maxLength: 5 });
const docArb = fc.oneof(
  fc.array(fc.record({ name: nameArb, value: fc.string({ maxLength: 6, unit }) }), { maxLength: 6 }),
  fc.array(fc.record({ name: nameArb, value: nsArb }), { maxLength: 5 }),
  // Mixed levels, which duplicates may or may not resolve.
  fc.array(fc.record({ name: nameArb, value: fc.oneof(fc.string({ maxLength: 4, unit }), nsArb) }), { maxLength: 5 }),
);

function render(doc: readonly Member[], escapes: readonly number[], ws: readonly string[]): string {
  let k = 0;
  const w = (): string => ws[k++ % ws.length] ?? '';
  const leaf = (v: string | number | null): string => (typeof v === 'string' ? literal(v, escapes) : String(v));
  const members = doc.map((m) => {
    const value =
      typeof m.value === 'string' ? leaf(m.value) : `{${w()}${m.value.map(([n, v]) => `${literal(n, escapes)}${w()}:${w()}${leaf(v)}`).join(`,${w()}`)}${w()}}`;
    return `${w()}${literal(m.name, escapes)}${w()}:${w()}${value}${w()}`;
  });
  return `${w()}{${members.join(',')}}${w()}`;
}

/** Names worth asking for: every `ns/KEY`, `ns__KEY` and bare reading of the document, and others. */
function namesOf(doc: readonly Member[]): string[] {
  const out = new Set<string>(['', 'missing', '/', '__']);
  for (const m of doc) {
    out.add(m.name);
    if (typeof m.value !== 'string') {
      for (const [k] of m.value) {
        out.add(k);
        out.add(`${m.name}/${k}`);
        out.add(`${m.name}__${k}`);
      }
    }
  }
  return [...out];
}

describe('payload scanner (workers/scan.ts) agrees with the full parser', () => {
  test('known cases: escapes, surrogates, duplicates, __proto__, ambiguity, array-index order', () => {
    const cases: [string, string[]][] = [
      ['{"app":{"DB":"postgres://x","API":"k1"},"pay":{"API":"k2"}}', ['app__DB', 'app/DB', 'DB', 'API', 'pay__API', 'app/API', 'nope', '']],
      ['{"A":"1","B":"2"}', ['A', 'B', 'C', 'app/A', '']],
      ['{}', ['A', '']],
      ['{"app":{}}', ['A']],
      ['{"\\u0061pp":{"K\\u00e9Y":"v\\u00e9\\n\\ud83d\\ude00","x":"\\/"}}', ['app__KéY', 'KéY', 'app/x', 'x']],
      ['{"a":{"😀":"\\ud800","\\ud83d\\ude00":"dup"}}', ['😀', 'a__😀']],
      ['{"a":{"\\ud800":"lone"}}', ['\ud800', '\ufffd']],
      // Repeated names (refused): a key within a namespace, a whole namespace, a flat key, and
      // repeats that JSON.parse would have turned into a valid payload.
      ['{"a":{"K":"1","K":"2"}}', ['K', 'a__K', 'a/K']],
      ['{"a":{"K":"1"},"b":{"K":"2"},"a":{"L":"3"}}', ['K', 'L', 'a__K', 'a/K', 'b__K']],
      ['{"K":"1","K":"2"}', ['K']],
      ['{"a":1,"a":"x"}', ['a']],
      ['{"a":"x","a":{"K":"v"}}', ['K', 'a__K']],
      ['{"a":{"K":{"deep":"x"}},"a":{"K":"v"}}', ['K']],
      // Two entries with one qualified name; two `ns/KEY` readings of one path.
      ['{"a__b":{"c":"1"},"a":{"b__c":"2"}}', ['a__b__c', 'a__b/c', 'a/b__c', 'c', 'b__c']],
      ['{"a":{"b/c":"1"},"a/b":{"c":"2"}}', ['a/b/c', 'c']],
      ['{"1/2":{"3":"late"},"1":{"2/3":"early"}}', ['1/2/3']],
      ['{"1":{"2/3":"x"},"1/2":{"3":"y"}}', ['1/2/3']],
      [
        '{"__proto__":{"constructor":"c","polluted":"yes"},"constructor":{"prototype":"p"}}',
        ['polluted', '__proto____polluted', '__proto__/constructor', 'prototype', 'toString'],
      ],
      ['\ufeff { "A" : "1" } \n', ['A']],
    ];
    for (const [json, names] of cases) for (const name of names) agree(text(json), name);
    // The name asked for, or the namespace holding it, written twice: the scan itself hands over,
    // so the answer is the refusal, never one of the two values.
    for (const [json, name] of [
      ['{"K":"1","K":"2"}', 'K'],
      ['{"a":{"K":"1","\\u004b":"2"}}', 'K'],
      ['{"a":{"K":"1","K":"2"}}', 'a__K'],
      ['{"a":{"K":"1","K":"2"}}', 'a/K'],
      ['{"a":{"K":"1"},"a":{"K":"2"}}', 'K'],
      ['{"a":{"K":"1"},"a":{"L":"2"}}', 'a/K'],
      ['{"a":{"L":"1"},"a":{"K":"2"}}', 'a__K'],
    ] as const) {
      assert.notEqual(scanPayload(text(json), name).verdict, 'ok', json);
      const answer = secretByScan(text(json), { route: 'secret', name, plain: true }, NO_LIMIT);
      assert.ok(repeated(answer), `${json} ${name}: ${JSON.stringify(answer)}`);
    }
    assert.deepEqual(comparable(secretByScan(text('{"a":{"K":"1"},"b":{"K":"2"}}'), { route: 'secret', name: 'K', plain: false }, NO_LIMIT)), {
      ok: true,
      status: 409,
      candidates: ['a__K', 'b__K'],
    });
  });

  test('known invalid payloads: the same failure, code and message, as the full parser', () => {
    const invalid = [
      '',
      ' ',
      '[]',
      '"x"',
      '1',
      'null',
      '{"A":1}',
      '{"a":{"b":{"c":"d"}}}',
      '{"A":"x","b":{}}',
      '{"b":{},"A":"x"}',
      '{"A":"x",}',
      '{"A":"x"',
      '{"A":"x"}}',
      '{"A":"x"} x',
      '{"A":"\\x"}',
      '{"A":"\\u12"}',
      '{"A":"\t"}',
      "{'A':'x'}",
      '{"A":01}',
      '{"A":-}',
      '{"A":1.}',
      '{"A":1e}',
      '{"a":[1,2,{"x":[true,false,null]}]}',
      '{"a":{"b":[]}}',
      '\ufeff\ufeff{}',
    ];
    for (const json of invalid) {
      assert.ok('ok' in parseChecked(text(json)), `oracle rejects ${json}`);
      agree(text(json), 'A');
    }
    for (const bytes of [
      [0x7b, 0x22, 0xc3, 0x22, 0x3a, 0x22, 0x22, 0x7d],
      [0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x22, 0x22, 0x7d],
      [0x7b, 0x22, 0xf4, 0x90, 0x80, 0x80, 0x22, 0x3a, 0x22, 0x22, 0x7d],
      [0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x22, 0x22, 0x7d],
    ]) {
      agree(Uint8Array.from(bytes), 'A');
    }
  });

  test('deep nesting is judged without recursion', () => {
    const deep = `{"a":${'['.repeat(200_000)}${']'.repeat(200_000)}}`;
    agree(text(deep), 'a');
  });

  test('property: any payload text, any name — the same answer and the same verdict', () => {
    fc.assert(
      fc.property(
        docArb,
        fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 1, maxLength: 7 }),
        fc.array(wsArb, { minLength: 1, maxLength: 5 }),
        (doc, escapes, ws) => {
          const json = render(doc, escapes, ws);
          const bytes = text(json);
          for (const name of namesOf(doc)) agree(bytes, name);
          // A document without duplicates or bad leaves must take the fast path, or it is never used.
          const names = doc.map((m) => m.name);
          const simple =
            new Set(names).size === names.length &&
            (doc.every((m) => typeof m.value === 'string') || doc.every((m) => typeof m.value !== 'string' && m.value.every(([, v]) => typeof v === 'string')));
          if (simple) assert.equal(scanPayload(bytes).verdict, 'ok', json);
        },
      ),
      { numRuns: RUNS },
    );
  });

  test('property: arbitrary JSON values and mangled bytes — the same verdict', () => {
    fc.assert(
      fc.property(fc.json(), fc.nat(), fc.integer({ min: 0, max: 255 }), (json, at, byte) => {
        agree(text(json), 'a');
        const mangled = text(json);
        if (mangled.length > 0) mangled[at % mangled.length] = byte;
        agree(mangled, 'a');
      }),
      { numRuns: RUNS },
    );
  });
});

describe('JIT single-key cost', () => {
  test('answering one key JSON-encodes only that value and parses only the strings it answers with, however many keys there are', () => {
    const payload: Record<string, Record<string, string>> = {};
    for (let i = 0; i < 2000; i++) (payload[`ns${i % 4}`] ??= {})[`K${i}`] = `value-${i}`;
    const bytes = text(JSON.stringify(payload));
    const calls = { stringify: 0, parse: 0 };
    const { stringify, parse } = JSON;
    JSON.stringify = ((...a: Parameters<typeof stringify>) => (calls.stringify++, stringify(...a))) as typeof stringify;
    // JSON.parse returns `any` by its own signature; the spy passes it through untouched.
    // eslint-disable-next-line @typescript-eslint/no-unsafe-return
    JSON.parse = ((...a: Parameters<typeof parse>) => (calls.parse++, parse(...a))) as typeof parse;
    let r: ServeResult;
    try {
      r = secretByScan(bytes, { route: 'secret', name: 'ns1/K1001', plain: false }, NO_LIMIT);
    } finally {
      JSON.stringify = stringify;
      JSON.parse = parse;
    }
    assert.ok(r.ok && r.status === 200);
    assert.equal(Buffer.from(r.body).toString('utf8'), '{"key":"ns1__K1001","value":"value-1001"}');
    // The full-parse path encodes all 2000 values and parses the whole payload.
    assert.ok(calls.stringify <= 2, `JSON.stringify called ${calls.stringify} times`);
    assert.ok(calls.parse <= 3, `JSON.parse called ${calls.parse} times`);
  });
});

describe('key count (CLEF_AGENT_MAX_KEYS)', () => {
  test('counts the keys as written, namespaces excluded; a limit below the count refuses the payload', () => {
    assert.equal(scanPayload(text('{"a":{"X":"1","Y":"2"},"b":{"Z":"3"}}')).keys, 3);
    assert.equal(scanPayload(text('{"X":"1","Y":"2","X":"3"}')).keys, 3);
    assert.equal(scanPayload(text('{}')).keys, 0);
    // Not a payload at all: what the full parser would allocate is counted instead.
    assert.equal(scanPayload(text('[1,[2,3],{"a":4}]')).keys, 6);
    const ok = parsePayload(text('{"a":{"X":"1","Y":"2"}}'), 2);
    assert.ok(!('ok' in ok));
    const over = parsePayload(text('{"a":{"X":"1","Y":"SECRETVALUE","Z":"3"}}'), 2);
    assert.ok('ok' in over && over.code === 'too_many_keys');
    assert.equal(over.message, 'the decrypted payload has 3 keys, more than CLEF_AGENT_MAX_KEYS allows (2)');
    const single = secretByScan(text('{"a":{"X":"1","Y":"2","Z":"3"}}'), { route: 'secret', name: 'X', plain: true }, 2);
    assert.ok(!single.ok && single.code === 'too_many_keys');
  });
});
