/** Generated decrypted payloads (SPEC §2.1) for the artifact fuzz suite, with the spec's verdict on each. */
import fc from 'fast-check';

const name = fc.oneof(
  fc.string({ minLength: 1, maxLength: 12 }),
  fc.constantFrom('__proto__', 'constructor', 'toString', 'hasOwnProperty', 'a__b', 'a/b', '', ' ', '%2F', '\u0000', 'é', '\u{1F511}'),
);
const value = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 10 }),
  fc.constantFrom('', '\n', '"', '\\', '\u2028', '</script>'),
);
const leafish = fc.oneof(value, fc.constantFrom<unknown>(null, 0, true, [], ['x'], {}), fc.jsonValue({ maxDepth: 2 }));

/** JSON text of a payload: mostly valid shapes, many near misses, some not JSON at all. */
export const payloadArb: fc.Arbitrary<{ readonly text: string }> = fc
  .oneof(
    { weight: 3, arbitrary: fc.dictionary(name, fc.dictionary(name, value, { maxKeys: 4 }), { maxKeys: 4 }).map((v) => JSON.stringify(v)) },
    { weight: 3, arbitrary: fc.dictionary(name, value, { maxKeys: 6 }).map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: fc.dictionary(name, fc.oneof(value, fc.dictionary(name, leafish, { maxKeys: 3 })), { maxKeys: 4 }).map((v) => JSON.stringify(v)) },
    { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '{}',
        ' {"A":"b"} ',
        '{"__proto__":{"A":"b"}}',
        '{"__proto__":"x","constructor":"y"}',
        '{"a":"1","a":{"b":"2"}}',
        '{"a":{"b":"2"},"a":"1"}',
        '{"a":"\\ud800"}',
        '\ufeff{"A":"b"}',
        '{"A":"b"}\u0000',
        'not json',
        '',
        '[]',
        'null',
        '"str"',
        '{"a":{"b":{"c":"d"}}}',
        '{"a":{}}',
        '{"a":{},"b":"c"}',
      ),
    },
  )
  .map((text) => ({ text }));

/** 'valid', or why the spec refuses it. */
export function payloadVerdict(text: string): string {
  let v: unknown;
  try {
    // The agent tolerates one leading BOM, as RFC 8259 allows (common/json.ts).
    v = JSON.parse(text.startsWith('\ufeff') ? text.slice(1) : text);
  } catch {
    return 'not JSON';
  }
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(v)) return 'not an object';
  const vals = Object.values(v);
  if (vals.every((x) => typeof x === 'string')) return 'valid';
  if (vals.every((x) => isObj(x) && Object.values(x).every((y) => typeof y === 'string'))) return 'valid';
  return 'bad shape';
}
