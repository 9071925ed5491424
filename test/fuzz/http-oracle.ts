/**
 * Well-formed requests with the correct token and Host, each built from an intent whose answer is
 * known in advance (the fixture payload is fixed): the HTTP fuzz suite checks the exact status and
 * body, so the secrets routes are consistent with the route however the target is spelled.
 */
import fc from 'fast-check';
import type { Target } from './http-gen.js';

export type Payload = Record<string, Record<string, string>>;

export type Expected =
  | { readonly status: 200; readonly json: unknown }
  | { readonly status: 200; readonly text: string }
  | { readonly status: 404 | 405; readonly reason: string }
  | { readonly status: 409; readonly reason: 'ambiguous_key'; readonly candidates: readonly string[] };

export interface OracleCase {
  readonly method: string;
  readonly target: string;
  readonly accept: string | undefined;
  readonly expected: Expected;
  readonly text: string;
}

/** Percent-encodes some characters of `s` (any case of hex digits): the router decodes them. */
function spelled(s: string): fc.Arbitrary<string> {
  return fc.array(fc.integer({ min: 0, max: 2 }), { minLength: s.length, maxLength: s.length }).map((how) =>
    [...s]
      .map((c, i) => {
        const hex = c.charCodeAt(0).toString(16).padStart(2, '0');
        return how[i] === 1 ? `%${hex.toUpperCase()}` : how[i] === 2 ? `%${hex.toLowerCase()}` : c;
      })
      .join(''),
  );
}

/** Every name a payload entry can be asked for by, and what that name answers. */
function secretIntents(p: Payload): fc.Arbitrary<{ path: fc.Arbitrary<string>; value?: string; qualified?: string; candidates?: string[] }> {
  const entries = Object.entries(p).flatMap(([ns, keys]) => Object.entries(keys).map(([k, v]) => ({ ns, k, v })));
  const bare = new Map<string, string[]>();
  for (const e of entries) bare.set(e.k, [...(bare.get(e.k) ?? []), `${e.ns}__${e.k}`]);
  const known = new Set([...entries.map((e) => `${e.ns}__${e.k}`), ...bare.keys(), ...entries.map((e) => `${e.ns}/${e.k}`)]);
  const found = fc.constantFrom(...entries).chain((e) =>
    fc.constantFrom(
      { path: spelled(`${e.ns}__${e.k}`), value: e.v, qualified: `${e.ns}__${e.k}` },
      { path: fc.tuple(spelled(e.ns), spelled(e.k)).map(([a, b]) => `${a}/${b}`), value: e.v, qualified: `${e.ns}__${e.k}` },
      {
        path: fc.tuple(spelled(e.ns), spelled(e.k), fc.constantFrom('%2F', '%2f')).map(([a, b, s]) => `${a}${s}${b}`),
        value: e.v,
        qualified: `${e.ns}__${e.k}`,
      },
      ...((bare.get(e.k)?.length ?? 0) === 1 ? [{ path: spelled(e.k), value: e.v, qualified: `${e.ns}__${e.k}` }] : []),
    ),
  );
  const ambiguous = [...bare].filter(([, q]) => q.length > 1).map(([k, q]) => ({ path: spelled(k), candidates: [...q].sort() }));
  const missing = fc
    .stringMatching(/^[A-Za-z0-9_.~-]{1,24}$/)
    .filter((s) => !known.has(s) && s !== '.' && s !== '..')
    .map((s) => ({ path: spelled(s) }));
  return fc.oneof(found, ...(ambiguous.length ? [fc.constantFrom(...ambiguous)] : []), missing);
}

export function oracleArb(t: Target, p: Payload): fc.Arbitrary<OracleCase> {
  const keys = Object.entries(p)
    .flatMap(([ns, ks]) => Object.keys(ks).map((k) => `${ns}__${k}`))
    .sort();
  // `routed`: the path matches a route, so another method is 405 whatever the key (method before lookup).
  type Intent = { path: string; routed: boolean; ok: Expected; plain?: Expected };
  const fixed = fc.constantFrom<Intent>(
    { path: '/v1/secrets', routed: true, ok: { status: 200, json: p } },
    { path: '/v1/keys', routed: true, ok: { status: 200, json: keys } },
    { path: '/v1/nope', routed: false, ok: { status: 404, reason: 'not_found' } },
    { path: '/v1/secrets/', routed: false, ok: { status: 404, reason: 'not_found' } },
    { path: '/v1/secrets/a/b/c', routed: false, ok: { status: 404, reason: 'not_found' } },
    { path: '/v1/secrets/%zz', routed: false, ok: { status: 404, reason: 'not_found' } },
  );
  const secret = secretIntents(p).chain((i) =>
    i.path.map((path): Intent => {
      const full = `/v1/secrets/${path}`;
      if (i.value !== undefined)
        return { path: full, routed: true, ok: { status: 200, json: { key: i.qualified, value: i.value } }, plain: { status: 200, text: i.value } };
      if (i.candidates) return { path: full, routed: true, ok: { status: 409, reason: 'ambiguous_key', candidates: i.candidates } };
      return { path: full, routed: true, ok: { status: 404, reason: 'not_found' } };
    }),
  );
  return fc
    .record({
      intent: fc.oneof(fixed, secret),
      query: fc.option(fc.constantFrom('?x=1', '?', '?a=%zz&b'), { nil: undefined }),
      method: fc.oneof(
        { weight: 5, arbitrary: fc.constantFrom('GET', 'HEAD') },
        { weight: 1, arbitrary: fc.constantFrom('POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH') },
      ),
      accept: fc.option(fc.constantFrom('text/plain', 'application/json', 'text/plain;q=0.5, application/json', '*/*', 'text/plain, */*;q=0.1'), {
        nil: undefined,
      }),
      host: fc.constantFrom(`127.0.0.1:${t.port}`, `localhost:${t.port}`, '127.0.0.1', 'LocalHost'),
      scheme: fc.constantFrom('Bearer', 'bearer', 'BEARER'),
    })
    .map((r) => {
      const target = r.intent.path + (r.query ?? '');
      const plain = r.accept === 'text/plain' || r.accept === 'text/plain, */*;q=0.1';
      let expected: Expected = plain && r.intent.plain ? r.intent.plain : r.intent.ok;
      if (r.method !== 'GET' && r.method !== 'HEAD' && r.intent.routed) expected = { status: 405, reason: 'method_not_allowed' };
      const head = [
        `${r.method} ${target} HTTP/1.1`,
        `Host: ${r.host}`,
        `Authorization: ${r.scheme} ${t.token}`,
        ...(r.accept ? [`Accept: ${r.accept}`] : []),
        '',
        '',
      ];
      return { method: r.method, target, accept: r.accept, expected, text: head.join('\r\n') };
    });
}
