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

/** Texts that name something twice: the agent refuses them whatever JSON.parse would keep. */
const REPEATED = new Set(['{"a":"1","a":{"b":"2"}}', '{"a":{"b":"2"},"a":"1"}', '{"A":"1","\\u0041":"2"}', '{"a":{"K":"1","K":"2"}}']);

/**
 * A payload: its JSON text and, when it was generated from a value, that value — the oracle, so
 * the verdict never rests on re-parsing text whose escaped names V8 ≥ 12 may decode wrongly
 * (common/payload-value.ts).
 */
export interface GeneratedPayload {
  readonly text: string;
  readonly value?: unknown;
}

const fromValue = (v: unknown): GeneratedPayload => ({ text: JSON.stringify(v), value: v });

/** JSON text of a payload: mostly valid shapes, many near misses, some not JSON at all. */
export const payloadArb: fc.Arbitrary<GeneratedPayload> = fc.oneof(
  { weight: 3, arbitrary: fc.dictionary(name, fc.dictionary(name, value, { maxKeys: 4 }), { maxKeys: 4 }).map(fromValue) },
  { weight: 3, arbitrary: fc.dictionary(name, value, { maxKeys: 6 }).map(fromValue) },
  { weight: 2, arbitrary: fc.dictionary(name, fc.oneof(value, fc.dictionary(name, leafish, { maxKeys: 3 })), { maxKeys: 4 }).map(fromValue) },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 4 }).map(fromValue) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        ...REPEATED,
        '{}',
        ' {"A":"b"} ',
        '{"__proto__":{"A":"b"}}',
        '{"__proto__":"x","constructor":"y"}',
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
      )
      .map((text): GeneratedPayload => ({ text })),
  },
);

/** 'valid', or why the spec refuses it. */
export function payloadVerdict(p: GeneratedPayload): string {
  if (REPEATED.has(p.text)) return 'a repeated name';
  let v: unknown = p.value;
  if (!('value' in p)) {
    try {
      // Hand-written texts (no escaped names): the agent tolerates one leading BOM, as RFC 8259 allows.
      v = JSON.parse(p.text.startsWith('\ufeff') ? p.text.slice(1) : p.text);
    } catch {
      return 'not JSON';
    }
  }
  const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
  if (!isObj(v)) return 'not an object';
  const vals = Object.values(v);
  if (vals.every((x) => typeof x === 'string')) return 'valid';
  if (vals.every((x) => isObj(x) && Object.values(x).every((y) => typeof y === 'string'))) return 'valid';
  return 'bad shape';
}
