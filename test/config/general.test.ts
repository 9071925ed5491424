/** Cross-cutting config behaviour: unknown names, collected errors, secrecy, the helpers' formats. */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ConfigError, KNOWN_VARIABLES } from '../../src/config/index.js';
import { isLoopbackHost } from '../../common/net.js';
import { maskUrl, quote } from '../../common/display.js';
import { editDistance, suggest } from '../../src/config/unknown.js';
import { VARIABLE_LIST } from '../../src/config/variables.js';
import { cleanup, env, load, refuse, refuseWith } from './helpers.js';

after(cleanup);

describe('unknown CLEF_AGENT_* variables', () => {
  const tail = 'expected one of the CLEF_AGENT_* variables documented in the README';
  test('unknown variable: a typo is refused with the nearest known name', () =>
    void refuseWith(env({ CLEF_AGENT_PROT: '8080' }), [`CLEF_AGENT_PROT: is not a known setting; ${tail} (did you mean CLEF_AGENT_PORT?)`]));
  test('unknown variable: a misspelt verify key cannot silently disable signatures', () =>
    void refuseWith(env({ CLEF_AGENT_VERIFY_KYE: 'MCow' }), [`CLEF_AGENT_VERIFY_KYE: is not a known setting; ${tail} (did you mean CLEF_AGENT_VERIFY_KEY?)`]));
  test('unknown variable: a lower-case name is caught too', () =>
    void refuseWith(env({ clef_agent_port: '1' }), [`clef_agent_port: is not a known setting; ${tail} (did you mean CLEF_AGENT_PORT?)`]));
  test('unknown variable: no suggestion when nothing is close', () =>
    void refuseWith(env({ CLEF_AGENT_SOMETHING_ELSE_ENTIRELY: 'x' }), [`CLEF_AGENT_SOMETHING_ELSE_ENTIRELY: is not a known setting; ${tail}`]));
  test('unknown variable: a name with a control character is quoted', () =>
    void refuseWith(env({ 'CLEF_AGENT_X\nY': 'x' }), [`"CLEF_AGENT_X\\nY": is not a known setting; ${tail}`]));
  test('unknown variable: its value is never shown', () => assert.ok(!refuse(env({ CLEF_AGENT_TOKN: 'hunter2-secret' })).message.includes('hunter2')));
  test('unknown variable: other prefixes are ignored', () => assert.equal(load(env({ CLEF_AGENTX: '1', AWS_REGION: 'eu-west-1', PATH: '/bin' })).port, 7779));
  test('KNOWN_VARIABLES: lists every implemented setting once, all prefixed', () => {
    assert.equal(new Set(KNOWN_VARIABLES).size, KNOWN_VARIABLES.length);
    assert.equal(KNOWN_VARIABLES.length, 36);
    for (const name of KNOWN_VARIABLES) assert.match(name, /^CLEF_AGENT_[A-Z_]+$/);
  });
  test('editDistance and suggest', () => {
    assert.equal(editDistance('kitten', 'sitting'), 3);
    assert.equal(suggest('CLEF_AGENT_CACHE_TLL'), 'CLEF_AGENT_CACHE_TTL');
    assert.equal(suggest('CLEF_AGENT_NOPE_NOPE_NOPE'), undefined);
  });
});

describe('collected errors', () => {
  test('every invalid setting is reported, one line each, in a fixed order', () => {
    const err = refuseWith(
      env({ CLEF_AGENT_WORKERS: '0', CLEF_AGENT_PORT: 'abc', CLEF_AGENT_LOG_LEVEL: 'loud', CLEF_AGENT_CACHE_TTL: '10', CLEF_AGENT_PROT: '1' }),
      [
        'CLEF_AGENT_PROT: is not a known setting; expected one of the CLEF_AGENT_* variables documented in the README (did you mean CLEF_AGENT_PORT?)',
        'CLEF_AGENT_PORT: "abc" is not an integer; expected an integer from 0 to 65535',
        'CLEF_AGENT_CACHE_TTL: 10 is below the minimum; expected 0 (JIT mode) or an integer of at least 30 seconds',
        'CLEF_AGENT_LOG_LEVEL: "loud" is not a valid log level; expected one of trace, debug, info, warn, error, fatal, silent',
        'CLEF_AGENT_WORKERS: 0 is below the minimum; expected an integer from 1 to 64',
      ],
    );
    assert.equal(err.variable, 'CLEF_AGENT_PROT');
    assert.deepEqual(
      err.issues.map((i) => i.variable),
      ['CLEF_AGENT_PROT', 'CLEF_AGENT_PORT', 'CLEF_AGENT_CACHE_TTL', 'CLEF_AGENT_LOG_LEVEL', 'CLEF_AGENT_WORKERS'],
    );
  });
  test('ConfigError: a single issue has its variable and message', () => {
    const err = new ConfigError('CLEF_AGENT_PORT', 'CLEF_AGENT_PORT: x; expected y');
    assert.equal(err.name, 'ConfigError');
    assert.equal(err.variable, 'CLEF_AGENT_PORT');
    assert.equal(err.message, 'CLEF_AGENT_PORT: x; expected y');
    assert.ok(err instanceof Error);
  });
});

describe('settings table', () => {
  test('settings table: an empty value is refused for every variable, and the lines come in table order', () => {
    // The source group is left valid (SOURCE set, no VCS variable), so each other variable reports itself.
    const others = VARIABLE_LIST.filter((v) => !v.name.startsWith('CLEF_AGENT_VCS_') && v.name !== 'CLEF_AGENT_SOURCE');
    // AGE_KEY and AGE_KEY_FILE, TOKEN and TOKEN_FILE are exclusive pairs: only the first of each is set.
    const set = others.filter((v) => v.name !== 'CLEF_AGENT_AGE_KEY_FILE' && v.name !== 'CLEF_AGENT_TOKEN_FILE');
    const err = refuse(env(Object.fromEntries(set.map((v) => [v.name, '']))));
    assert.deepEqual(
      err.issues.map((i) => i.variable),
      set.map((v) => v.name),
    );
  });
});

describe('secret values are never echoed', () => {
  const SECRET = 'S3CR3T-VALUE-d41d8cd98f00b204e980';
  test('secrets: none of the secret variables appears in any message', () => {
    const err = refuse(
      env({
        CLEF_AGENT_SOURCE: undefined,
        CLEF_AGENT_TOKEN: `${SECRET} with spaces`,
        CLEF_AGENT_AGE_KEY: `AGE-SECRET-KEY-1${SECRET}`,
        CLEF_AGENT_AGE_KEY_FILE: '/nonexistent',
        CLEF_AGENT_VCS_TOKEN: `${SECRET}\n`,
        CLEF_AGENT_VCS_PROVIDER: 'github',
        CLEF_AGENT_TELEMETRY_URL: `ftp://user:${SECRET}@host/`,
        CLEF_AGENT_VERIFY_KEY: `${SECRET}!`,
        CLEF_AGENT_TOKNE: SECRET,
      }),
    );
    assert.ok(err.issues.length >= 6, err.message);
    assert.ok(!err.message.includes(SECRET), err.message);
    assert.ok(!err.message.includes('S3CR3T'), err.message);
  });
  test('secrets: a URL password is masked in the plain-http refusal', () => {
    const err = refuse(env({ CLEF_AGENT_SOURCE: `http://deploy:${SECRET}@artifacts.internal/a.json?token=${SECRET}` }));
    assert.ok(!err.message.includes(SECRET), err.message);
    assert.ok(err.message.includes('http://***@artifacts.internal/a.json?***'));
  });
  test('secrets: the token never appears in warnings', () => {
    const c = load(env({ CLEF_AGENT_TOKEN: 'shorty-S3CR3T' }));
    for (const w of c.warnings) assert.ok(!w.includes('S3CR3T'));
  });
});

describe('parse helpers', () => {
  test('quote escapes control characters and truncates long values', () => {
    assert.equal(quote('a"b\n'), '"a\\"b\\n"');
    assert.equal(quote('x'.repeat(70)), `"${'x'.repeat(64)}…"`);
  });
  test('maskUrl masks user info and every query value, and drops the fragment', () => {
    assert.equal(maskUrl(new URL('https://u:p@h.example:8443/p/a?sig=1&b=2#f')), 'https://***@h.example:8443/p/a?***');
    assert.equal(maskUrl(new URL('https://h.example/p')), 'https://h.example/p');
  });
  test('isLoopbackHost', () => {
    for (const h of ['localhost', 'LOCALHOST', 'localhost.', '127.0.0.1', '127.255.0.9', '[::1]', '[::ffff:7f00:1]']) assert.equal(isLoopbackHost(h), true, h);
    for (const h of ['example.com', '10.0.0.1', '128.0.0.1', '[::2]', 'localhost.example', '[::ffff:a00:1]', '169.254.169.254'])
      assert.equal(isLoopbackHost(h), false, h);
  });
});
