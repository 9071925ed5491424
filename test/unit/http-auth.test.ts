/**
 * SPEC §5.1 "Bearer token compared in constant time, including when lengths differ", checked
 * structurally (never by timing): every check — missing header, malformed header, any presented
 * length — performs exactly one `crypto.timingSafeEqual` over two fixed-size (32-byte) digests,
 * and the raw token is never one of the compared buffers.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import fc from 'fast-check';
import type * as AuthModule from '../../src/http/auth.js';
import { authUnderTimingSpy } from '../helpers/timing-spy.js';

const TOKEN = 'c1ef'.repeat(16);

describe('§5.1 TokenGuard (src/http/auth.ts)', () => {
  let calls: Array<[Buffer, Buffer]> = [];
  let auth: typeof AuthModule;

  const spied = authUnderTimingSpy((a, b) => calls.push([a, b]));
  before(() => {
    auth = spied.auth();
  });

  const presented: Array<[string, string | undefined]> = [
    ['missing header', undefined],
    ['empty header', ''],
    ['scheme only', 'Bearer'],
    ['Basic scheme', 'Basic dXNlcjpwYXNz'],
    ['1-char token', 'Bearer x'],
    ['shorter (prefix)', `Bearer ${TOKEN.slice(0, 63)}`],
    ['same length, wrong', `Bearer ${'0'.repeat(64)}`],
    ['longer (suffix)', `Bearer ${TOKEN}0`],
    ['very long', `Bearer ${'y'.repeat(10_000)}`],
    ['right token', `Bearer ${TOKEN}`],
    ['right token, lowercase scheme', `bearer ${TOKEN}`],
  ];

  for (const [label, header] of presented) {
    it(`§5.1 constant-time compare over fixed-size digests: ${label} → one timingSafeEqual on two 32-byte buffers`, () => {
      const guard = new auth.TokenGuard(TOKEN);
      calls = [];
      const ok = guard.check(header);
      assert.equal(ok, header !== undefined && /^bearer /i.test(header) && header.slice(7) === TOKEN);
      assert.equal(calls.length, 1, 'exactly one comparison, never an early return');
      const [a, b] = calls[0] ?? [];
      assert.equal(a?.length, 32);
      assert.equal(b?.length, 32);
      for (const buf of [a, b]) {
        assert.ok(!buf?.equals(Buffer.from(TOKEN)), 'the raw token is never compared directly');
        assert.ok(!buf?.includes(Buffer.from(TOKEN.slice(0, 16))), 'the compared bytes do not contain the token');
      }
    });
  }

  it('§5.1 the digest is keyed per guard: the same token gives different compared bytes in two guards', () => {
    calls = [];
    new auth.TokenGuard(TOKEN).check(`Bearer ${TOKEN}`);
    new auth.TokenGuard(TOKEN).check(`Bearer ${TOKEN}`);
    assert.equal(calls.length, 2);
    assert.ok(!calls[0]?.[1].equals(calls[1]?.[1] ?? Buffer.alloc(0)), 'a per-process salt, not a bare hash');
  });

  it('§5.1 property: check(`Bearer s`) is true exactly when s is the token (random strings)', () => {
    const guard = new auth.TokenGuard(TOKEN);
    fc.assert(
      fc.property(fc.string({ minLength: 0, maxLength: 130 }), (s) => {
        assert.equal(guard.check(`Bearer ${s}`), s === TOKEN);
      }),
      { numRuns: 300 },
    );
    assert.equal(guard.check(`Bearer ${TOKEN}`), true);
  });

  it('§5 parseBearer: scheme case-insensitive, one token, nothing else', () => {
    assert.equal(auth.parseBearer(`Bearer ${TOKEN}`), TOKEN);
    assert.equal(auth.parseBearer(`BEARER ${TOKEN}`), TOKEN);
    assert.equal(auth.parseBearer(`bearer ${TOKEN}`), TOKEN);
    assert.equal(auth.parseBearer(undefined), undefined);
    assert.equal(auth.parseBearer(''), undefined);
    assert.equal(auth.parseBearer('Bearer'), undefined);
    assert.equal(auth.parseBearer(`Basic ${TOKEN}`), undefined);
    assert.equal(auth.parseBearer(`Bearer ${TOKEN} x`), undefined);
    assert.equal(auth.parseBearer(`Bearer${TOKEN}`), undefined);
  });

  it('§5.1 a guard for an empty token never accepts a missing or empty credential', () => {
    const guard = new auth.TokenGuard('');
    assert.equal(guard.check(undefined), false);
    assert.equal(guard.check(''), false);
    assert.equal(guard.check('Bearer '), false);
  });
});
