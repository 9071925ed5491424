/**
 * CLEF_AGENT_TOKENS_FILE (SPEC §10.3): the file format, validated strictly, every message naming
 * the variable, the file, the entry and what is accepted, never a hash; the trust rule of the token
 * file; the interplay with the main token (alone: no main token is generated).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ConfigError } from '../../src/config/index.js';
import { checkDistinct, parseScopedTokens, TOKENS_FILE_EXPECTED } from '../../src/config/scoped-tokens.js';
import { cleanup, env, load, refuseWith, tempDir, TOKEN } from './helpers.js';

after(cleanup);

const H1 = createHash('sha256').update('token-one').digest('hex');
const H2 = createHash('sha256').update('token-two').digest('hex');
const SHOWN = '"/etc/clef/tokens.json"';
const EXPECTED = `expected ${TOKENS_FILE_EXPECTED}`;

/** The message a file text is refused with. */
function refusal(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  try {
    parseScopedTokens(text, SHOWN);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.variable, 'CLEF_AGENT_TOKENS_FILE');
    return err.message;
  }
  assert.fail('accepted');
}

const entry = (o: Record<string, unknown> = {}): Record<string, unknown> => ({ name: 'web', sha256: H1, namespaces: ['app'], ...o });

describe('CLEF_AGENT_TOKENS_FILE: the file format', () => {
  test('a valid file: names, hashes as bytes (either case), namespaces sorted', () => {
    const t = parseScopedTokens(
      JSON.stringify({ tokens: [entry({ namespaces: ['payments', 'app'] }), entry({ name: 'ci.deploy-2', sha256: H2.toUpperCase() })] }),
      SHOWN,
    );
    assert.deepEqual(
      t.map((x) => ({ name: x.name, hash: x.sha256.toString('hex'), namespaces: x.namespaces })),
      [
        { name: 'web', hash: H1, namespaces: ['app', 'payments'] },
        { name: 'ci.deploy-2', hash: H2, namespaces: ['app'] },
      ],
    );
  });

  const cases: [string, unknown, string][] = [
    ['not JSON', '{"tokens":', 'is not valid JSON'],
    ['not an object', [], 'must hold a JSON object (found an array)'],
    ['unknown top-level field', { tokens: [entry()], extra: 1 }, 'has an unknown field "extra" at the top level (only "tokens" is accepted)'],
    ['no tokens field', {}, 'has no "tokens" field'],
    ['tokens not an array', { tokens: {} }, '"tokens" must be an array (found an object)'],
    ['entry not an object', { tokens: ['web'] }, 'tokens[0] must be an object (found a string)'],
    ['unknown entry field', { tokens: [entry({ token: 'x' })] }, 'tokens[0] has an unknown field "token" (accepted: "name", "sha256", "namespaces")'],
    ['missing name', { tokens: [{ sha256: H1, namespaces: ['app'] }] }, 'tokens[0] "name" must be 1 to 64 letters, digits, "_", "." or "-" (found nothing)'],
    ['bad name', { tokens: [entry({ name: 'we b' })] }, 'tokens[0] "name" must be 1 to 64 letters, digits, "_", "." or "-" (found "we b")'],
    ['reserved name', { tokens: [entry({ name: 'main' })] }, 'tokens[0] ("main") uses the name "main", reserved for the main token (CLEF_AGENT_TOKEN)'],
    ['duplicate name', { tokens: [entry(), entry({ sha256: H2 })] }, 'tokens[1] ("web") repeats the name of tokens[0]; every name must be unique'],
    ['hash not a string', { tokens: [entry({ sha256: 5 })] }, 'tokens[0] ("web") "sha256" must be a string (found a number)'],
    [
      'missing namespaces',
      { tokens: [entry({ namespaces: undefined })] },
      'tokens[0] ("web") "namespaces" must be an array of namespace names (found nothing)',
    ],
    ['empty namespaces', { tokens: [entry({ namespaces: [] })] }, 'tokens[0] ("web") "namespaces" is empty; a token must see at least one namespace'],
    [
      'namespace not a string',
      { tokens: [entry({ namespaces: [1] })] },
      'tokens[0] ("web") "namespaces" holds a number, not a namespace name (1 to 256 characters, no control characters)',
    ],
    [
      'empty namespace',
      { tokens: [entry({ namespaces: [''] })] },
      'tokens[0] ("web") "namespaces" holds "", not a namespace name (1 to 256 characters, no control characters)',
    ],
    ['namespace twice', { tokens: [entry({ namespaces: ['app', 'app'] })] }, 'tokens[0] ("web") "namespaces" names "app" twice'],
  ];
  for (const [label, value, problem] of cases) {
    test(`refused: ${label}`, () => {
      assert.equal(refusal(value), `CLEF_AGENT_TOKENS_FILE: ${SHOWN} ${problem}; ${EXPECTED}`);
    });
  }

  test('refused: an empty list', () => {
    assert.equal(
      refusal({ tokens: [] }),
      `CLEF_AGENT_TOKENS_FILE: ${SHOWN} "tokens" is empty; expected ${TOKENS_FILE_EXPECTED} with at least one token, or the variable unset`,
    );
  });

  test('refused: bad hex, never quoting the value', () => {
    for (const bad of [H1.slice(1), `${H1}0`, `${H1.slice(0, 63)}g`, `sha256:${H1}`]) {
      const msg = refusal({ tokens: [entry({ sha256: bad })] });
      assert.equal(
        msg,
        `CLEF_AGENT_TOKENS_FILE: ${SHOWN} tokens[0] ("web") "sha256" is not 64 hexadecimal digits (${bad.length} characters); expected the SHA-256 of the token in hex, e.g. from \`printf %s "$TOKEN" | sha256sum\``,
      );
      assert.ok(!msg.includes(bad.slice(8, 40)));
    }
  });

  test('refused: the same hash twice (whatever the case), naming both entries and neither hash', () => {
    const msg = refusal({ tokens: [entry(), entry({ name: 'ci', sha256: H1.toUpperCase() })] });
    assert.equal(
      msg,
      `CLEF_AGENT_TOKENS_FILE: ${SHOWN} tokens[1] ("ci") has the same "sha256" as tokens[0] ("web"); every token must be different; ${EXPECTED}`,
    );
  });

  test('refused: a scoped hash that is the main token', () => {
    const [t] = parseScopedTokens(JSON.stringify({ tokens: [entry({ sha256: H1 })] }), SHOWN);
    assert.ok(t);
    assert.throws(() => checkDistinct('token-one', [t]), {
      message:
        'CLEF_AGENT_TOKENS_FILE: the token named "web" is the main token (CLEF_AGENT_TOKEN / CLEF_AGENT_TOKEN_FILE); expected scoped tokens different from the main token',
    });
    checkDistinct('token-two', [t]);
    checkDistinct(undefined, [t]);
  });
});

describe('CLEF_AGENT_TOKENS_FILE: the file and the main token', () => {
  const tokensFile = (text: string, mode = 0o600): string => {
    const file = join(tempDir(), 'tokens.json');
    writeFileSync(file, text);
    chmodSync(file, mode);
    return file;
  };
  const valid = JSON.stringify({ tokens: [entry()] });

  test('with CLEF_AGENT_TOKEN: both apply, the main token as given', () => {
    const file = tokensFile(valid);
    const c = load(env({ CLEF_AGENT_TOKENS_FILE: file }));
    assert.equal(c.token, TOKEN);
    assert.equal(c.tokensFile, file);
    assert.deepEqual(
      c.scopedTokens?.map((t) => t.name),
      ['web'],
    );
  });

  test('alone: no main token is generated (only the scoped tokens open the API)', () => {
    const c = load(env({ CLEF_AGENT_TOKEN: undefined, CLEF_AGENT_TOKENS_FILE: tokensFile(valid) }));
    assert.equal(c.token, undefined);
    assert.equal(c.tokenOrigin, 'none');
  });

  test('a missing file, a relative path resolved, a file others may write: refused', () => {
    const dir = tempDir();
    refuseWith(env({ CLEF_AGENT_TOKENS_FILE: join(dir, 'nope.json') }), [`CLEF_AGENT_TOKENS_FILE: "${join(dir, 'nope.json')}" does not exist; ${EXPECTED}`]);
    const writable = tokensFile(valid, 0o666);
    refuseWith(env({ CLEF_AGENT_TOKENS_FILE: writable }), [
      `CLEF_AGENT_TOKENS_FILE: "${writable}" is writable by group or others (mode 0666); expected a file owned by root and not writable by group or others`,
    ]);
  });

  test('readable by others is fine (hashes, not tokens): no warning', () => {
    const c = load(env({ CLEF_AGENT_TOKENS_FILE: tokensFile(valid, 0o644) }));
    assert.deepEqual(c.warnings, []);
  });

  test('a format problem is reported with the other configuration problems', () => {
    const file = tokensFile(JSON.stringify({ tokens: [entry({ namespaces: [] })] }));
    refuseWith(env({ CLEF_AGENT_TOKENS_FILE: file, CLEF_AGENT_PORT: 'x' }), [
      'CLEF_AGENT_PORT: "x" is not an integer; expected an integer from 0 to 65535',
      `CLEF_AGENT_TOKENS_FILE: "${file}" tokens[0] ("web") "namespaces" is empty; a token must see at least one namespace; ${EXPECTED}`,
    ]);
  });
});
