/**
 * Generators of raw HTTP/1.1 requests for the HTTP fuzz suite: well-formed and malformed request
 * lines, targets, headers and framings, as bytes (node:http would refuse to send most of them).
 */
import fc from 'fast-check';

export interface Target {
  readonly port: number;
  readonly token: string;
}

/** One generated request: its bytes, and what the checks need to know about them. */
export interface GenRequest {
  /** The request as text; sent as UTF-8. */
  readonly text: string;
  /** The method as written (for the HEAD heuristics of the response parser). */
  readonly method: string;
}

const ROUTES = ['/v1/health', '/v1/ready', '/v1/secrets', '/v1/keys', '/v1/secrets/app__API_KEY', '/v1/secrets/API_KEY', '/v1/secrets/payments/STRIPE_KEY'];

const methodArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('GET', 'HEAD') },
  { weight: 3, arbitrary: fc.constantFrom('POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PRI', 'M-SEARCH', 'PROPFIND', 'QUERY') },
  { weight: 2, arbitrary: fc.constantFrom('get', 'Get', 'head', 'GET ', ' GET', 'G\tET', 'GE\0T', '') },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((n) => 'A'.repeat(n)) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 12 }) },
);

const badEscapes = ['%', '%G1', '%zz', '%2', '%00', '%C0%AF', '%E0%80', '%FF', '%25', '%2e%2e', '%2F', '%2f', '%5C'];

function targetArb(t: Target): fc.Arbitrary<string> {
  const route = fc.constantFrom(...ROUTES);
  return fc.oneof(
    { weight: 5, arbitrary: route },
    { weight: 2, arbitrary: fc.tuple(route, fc.string({ maxLength: 20 })).map(([r, q]) => `${r}?${encodeURI(q)}`) },
    {
      weight: 3,
      arbitrary: fc
        .tuple(
          fc.constantFrom('/v1/secrets/', '/v1/', '/', '/v1/secrets/app'),
          fc.array(fc.constantFrom(...badEscapes, 'app', 'API_KEY', '__', '/', '..', '.', 'x'), { maxLength: 6 }),
        )
        .map(([p, parts]) => p + parts.join('')),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        `http://127.0.0.1:${t.port}/v1/secrets`,
        `http://localhost:${t.port}/v1/keys`,
        'http://evil.example/v1/secrets',
        'https://127.0.0.1/v1/health',
        '*',
        '',
        '//v1/secrets',
        '/v1/secrets/../keys',
        '/v1/./secrets',
        '/v1/secrets#frag',
        '/V1/SECRETS',
        '/v1/secrets/',
        '/v1/secrets//API_KEY',
        '/v1/secrets/a/b/c',
        '127.0.0.1:7779',
      ),
    },
    { weight: 1, arbitrary: fc.integer({ min: 1_000, max: 40_000 }).map((n) => `/v1/secrets/${'K'.repeat(n)}`) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('/v1/secrets/é', '/v1/secrets/\u2028', '/v1/secrets/\u{1F511}', '/v1/secrets/a b', '/v1/se\tcrets', '/v1/secrets/\x7f'),
    },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }).map((s) => `/${s}`) },
  );
}

const versionArb = fc.oneof(
  { weight: 10, arbitrary: fc.constant('HTTP/1.1') },
  { weight: 1, arbitrary: fc.constantFrom('HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/0.9', 'http/1.1', 'HTTP/1.1 x', 'HTTP/11', '') },
);

type Header = readonly [string, string];

function hostArb(t: Target): fc.Arbitrary<Header[]> {
  const good = [`127.0.0.1:${t.port}`, `localhost:${t.port}`, '127.0.0.1', 'localhost', `LOCALHOST:${t.port}`];
  const bad = [
    'evil.example',
    `evil.example:${t.port}`,
    '127.0.0.1.evil.example',
    `127.0.0.1:${t.port + 1}`,
    'localhost.',
    '[::1]',
    `[::1]:${t.port}`,
    '0.0.0.0',
    '2130706433',
    '',
    ' 127.0.0.1',
    `127.0.0.1:${t.port} `,
    'localhost:0',
    '127.0.0.1:',
    'localhost@evil.example',
  ];
  return fc.oneof(
    { weight: 8, arbitrary: fc.constantFrom(...good).map((h): Header[] => [['Host', h]]) },
    { weight: 3, arbitrary: fc.constantFrom(...bad).map((h): Header[] => [['Host', h]]) },
    {
      weight: 2,
      arbitrary: fc.tuple(fc.constantFrom(...good, ...bad), fc.constantFrom(...good, ...bad)).map(([a, b]): Header[] => [
        ['Host', a],
        ['host', b],
      ]),
    },
    { weight: 1, arbitrary: fc.constant<Header[]>([]) },
    { weight: 1, arbitrary: fc.constantFrom('HOST', 'hOsT', 'Host ', 'X-Host').map((n): Header[] => [[n, `127.0.0.1:${t.port}`]]) },
  );
}

function authArb(t: Target): fc.Arbitrary<Header[]> {
  const tok = t.token;
  const values = [
    `Bearer ${tok}`,
    `bearer ${tok}`,
    `BEARER ${tok}`,
    `Bearer  ${tok}`,
    `Bearer ${tok} `,
    `Bearer\t${tok}`,
    `Bearer ${tok.slice(0, -1)}`,
    `Bearer ${tok}0`,
    `Bearer ${tok.toUpperCase()}`,
    `Bearer ${'0'.repeat(tok.length)}`,
    'Bearer',
    'Bearer ',
    tok,
    `Basic ${Buffer.from(`user:${tok}`).toString('base64')}`,
    `Token ${tok}`,
    `Bearer ${tok}, Bearer ${tok}`,
    `Bearer ${'x'.repeat(5000)}`,
  ];
  return fc.oneof(
    { weight: 3, arbitrary: fc.constant<Header[]>([]) },
    { weight: 6, arbitrary: fc.constantFrom(...values).map((v): Header[] => [['Authorization', v]]) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom(...values), fc.constantFrom(...values)).map(([a, b]): Header[] => [
        ['Authorization', a],
        ['authorization', b],
      ]),
    },
  );
}

const extraHeaderArb: fc.Arbitrary<Header[]> = fc.oneof(
  { weight: 4, arbitrary: fc.constant<Header[]>([]) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<Header[]>(
      [['X-Forwarded-For', '203.0.113.9']],
      [['Forwarded', 'for=203.0.113.9']],
      [['x-forwarded-for', '']],
      [['X-Real-IP', '10.0.0.1']],
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Header[]>(
      [['Transfer-Encoding', 'chunked']],
      [['Content-Length', '0']],
      [['Content-Length', '5']],
      [
        ['Content-Length', '5'],
        ['Transfer-Encoding', 'chunked'],
      ],
      [
        ['Transfer-Encoding', 'chunked'],
        ['Content-Length', '3'],
      ],
      [
        ['Content-Length', '5'],
        ['Content-Length', '6'],
      ],
      [['Content-Length', '-1']],
      [['Content-Length', '+5']],
      [['Content-Length', '5, 5']],
      [['Content-Length', '99999999999999999999']],
      [['Transfer-Encoding', 'xchunked']],
      [['Transfer-Encoding', 'chunked, identity']],
      [['Transfer-Encoding', 'identity, chunked']],
      [
        ['Transfer-Encoding', 'chunked'],
        ['Transfer-Encoding', 'chunked'],
      ],
      [['Transfer-Encoding ', 'chunked']],
      [['Transfer-Encoding', ' chunked']],
      [['Transfer-Encoding', '\tchunked']],
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Header[]>(
      [['Accept', 'text/plain']],
      [['Accept', 'application/json;q=0.1, text/plain;q=0.9']],
      [['Accept', 'text/plain;q=abc, */*']],
      [['Accept', ';;;,,,q=']],
      [['Accept', 'text/plain;q=1e999']],
      [['Connection', 'close']],
      [['Connection', 'keep-alive']],
      [
        ['Connection', 'Upgrade'],
        ['Upgrade', 'websocket'],
      ],
      [
        ['Upgrade', 'h2c'],
        ['Connection', 'Upgrade, HTTP2-Settings'],
        ['HTTP2-Settings', 'AAMAAABkAARAAAAAAAIAAAAA'],
      ],
      [['Expect', '100-continue']],
      [['Expect', 'nonsense']],
      [['Origin', 'http://evil.example']],
      [['Cookie', 'a=b']],
    ),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom<Header[]>(
      [['X-Big', 'v'.repeat(20 * 1024)]],
      [['X-Fold', 'a\r\n folded']],
      [['X-Nul', 'a\0b']],
      [['X-Bare-CR', 'a\rb']],
      [['X-Bare-LF', 'a\nb']],
      [['Bad Name', 'x']],
      [['', 'x']],
      [[':authority', 'x']],
      [['X-UTF8', 'é\u{1F511}']],
      [['X-Many', 'x']],
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: 50, max: 300 }).map((n): Header[] => Array.from({ length: n }, (_, i) => [`X-H${i}`, 'v'.repeat(64)])) },
  {
    weight: 1,
    arbitrary: fc.array(fc.tuple(fc.string({ unit: 'binary-ascii', maxLength: 10 }), fc.string({ unit: 'binary-ascii', maxLength: 30 })), { maxLength: 4 }),
  },
);

const bodyArb = fc.oneof(
  { weight: 6, arbitrary: fc.constant('') },
  { weight: 1, arbitrary: fc.constantFrom('hello', '0\r\n\r\n', '5\r\nhello\r\n0\r\n\r\n', 'zz\r\n', '{}') },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }) },
);

/** How header lines end: CRLF, or a bare LF somewhere. */
const eolArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant('crlf' as const) },
  { weight: 1, arbitrary: fc.constant('lf' as const) },
  { weight: 1, arbitrary: fc.constant('mixed' as const) },
);

export function requestArb(t: Target): fc.Arbitrary<GenRequest> {
  return fc
    .record({
      method: methodArb,
      target: targetArb(t),
      version: versionArb,
      host: hostArb(t),
      auth: authArb(t),
      extra: extraHeaderArb,
      body: bodyArb,
      eol: eolArb,
      order: fc.integer({ min: 0, max: 3 }),
    })
    .map((r) => {
      const headers: Header[] = [...r.host, ...r.auth, ...r.extra];
      // Rotate so Host is not always first.
      const rotated = headers.slice(r.order % (headers.length || 1)).concat(headers.slice(0, r.order % (headers.length || 1)));
      let i = 0;
      const eol = (): string => (r.eol === 'crlf' ? '\r\n' : r.eol === 'lf' ? '\n' : i++ % 2 === 0 ? '\r\n' : '\n');
      let head = `${r.method} ${r.target} ${r.version}${eol()}`;
      for (const [k, v] of rotated) head += `${k}: ${v}${eol()}`;
      head += eol();
      return { text: head + r.body, method: r.method };
    });
}

/** How one connection is used: 1–4 pipelined requests, written in pieces, then half-closed or cut. */
export interface GenConnection {
  readonly agent: number;
  readonly requests: readonly GenRequest[];
  /** Write the first bytes in pieces of these sizes, with these delays (ms, cycled) between them; then the rest. */
  readonly pieces: readonly number[];
  readonly delays: readonly number[];
  /** `end`: half-close and read to the server's close; `cut`: destroy after `cutAfterMs`. */
  readonly finish: 'end' | 'cut';
  readonly cutAfterMs: number;
}

export function connectionArb(targets: readonly Target[]): fc.Arbitrary<GenConnection> {
  return fc.integer({ min: 0, max: targets.length - 1 }).chain((agent) =>
    fc.record({
      agent: fc.constant(agent),
      requests: fc.array(requestArb(targets[agent] as Target), { minLength: 1, maxLength: 4 }),
      pieces: fc.array(fc.integer({ min: 1, max: 600 }), { maxLength: 6 }),
      delays: fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 4 }),
      finish: fc.constantFrom<'end' | 'cut'>('end', 'end', 'end', 'cut'),
      cutAfterMs: fc.integer({ min: 0, max: 30 }),
    }),
  );
}
