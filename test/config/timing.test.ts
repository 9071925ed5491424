/** CLEF_AGENT_CACHE_TTL, CLEF_AGENT_MAX_STALE, CLEF_AGENT_POLL_INTERVAL and their cross-rules (SPEC §3, §4.1). */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { derivePollInterval, MAX_STALE_IGNORED_WARNING } from '../../src/config/timing.js';
import { cleanup, env, load, refuseWith } from './helpers.js';

after(cleanup);

describe('CLEF_AGENT_CACHE_TTL', () => {
  const expected = 'expected 0 (JIT mode) or an integer of at least 30 seconds';
  test('CLEF_AGENT_CACHE_TTL: defaults to 300 (cached mode)', () => assert.equal(load(env()).cacheTtl, 300));
  test('CLEF_AGENT_CACHE_TTL: accepts 0 (JIT mode)', () => assert.equal(load(env({ CLEF_AGENT_CACHE_TTL: '0' })).cacheTtl, 0));
  test('CLEF_AGENT_CACHE_TTL: accepts the minimum, 30', () => assert.equal(load(env({ CLEF_AGENT_CACHE_TTL: '30' })).cacheTtl, 30));
  test('CLEF_AGENT_CACHE_TTL: accepts the maximum, 7 days', () => assert.equal(load(env({ CLEF_AGENT_CACHE_TTL: '604800' })).cacheTtl, 604_800));
  test('CLEF_AGENT_CACHE_TTL: rejects a value between 1 and 29', () =>
    void refuseWith(env({ CLEF_AGENT_CACHE_TTL: '10' }), [`CLEF_AGENT_CACHE_TTL: 10 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_CACHE_TTL: rejects a negative value', () =>
    void refuseWith(env({ CLEF_AGENT_CACHE_TTL: '-5' }), [`CLEF_AGENT_CACHE_TTL: -5 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_CACHE_TTL: rejects a duration with a unit', () =>
    void refuseWith(env({ CLEF_AGENT_CACHE_TTL: '5m' }), [`CLEF_AGENT_CACHE_TTL: "5m" is not an integer; ${expected}`]));
  test('CLEF_AGENT_CACHE_TTL: rejects more than 7 days', () =>
    void refuseWith(env({ CLEF_AGENT_CACHE_TTL: '604801' }), [
      'CLEF_AGENT_CACHE_TTL: 604801 is above the maximum; expected 0 (JIT mode) or an integer from 30 to 604800 seconds (7 days)',
    ]));
  test('CLEF_AGENT_CACHE_TTL: rejects an empty value', () =>
    void refuseWith(env({ CLEF_AGENT_CACHE_TTL: '' }), [`CLEF_AGENT_CACHE_TTL: is empty; ${expected}`]));
});

describe('CLEF_AGENT_MAX_STALE', () => {
  const expected = 'expected an integer from 10 to 604800 seconds';
  test('CLEF_AGENT_MAX_STALE: defaults to 300', () => assert.equal(load(env({ CLEF_AGENT_CACHE_TTL: '0' })).maxStale, 300));
  test('CLEF_AGENT_MAX_STALE: accepts a value in JIT mode without a warning', () => {
    const c = load(env({ CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_MAX_STALE: '60' }));
    assert.equal(c.maxStale, 60);
    assert.deepEqual(c.warnings, []);
  });
  test('CLEF_AGENT_MAX_STALE: warns that it is ignored in cached mode', () =>
    assert.deepEqual(load(env({ CLEF_AGENT_MAX_STALE: '60' })).warnings, [MAX_STALE_IGNORED_WARNING]));
  test('CLEF_AGENT_MAX_STALE: rejects a value below 10', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_STALE: '9' }), [`CLEF_AGENT_MAX_STALE: 9 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_MAX_STALE: rejects more than 7 days', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_STALE: '604801' }), [`CLEF_AGENT_MAX_STALE: 604801 is above the maximum; ${expected}`]));
  test('CLEF_AGENT_MAX_STALE: rejects a non-integer', () =>
    void refuseWith(env({ CLEF_AGENT_MAX_STALE: '1.5' }), [`CLEF_AGENT_MAX_STALE: "1.5" is not an integer; ${expected}`]));
});

describe('CLEF_AGENT_POLL_INTERVAL', () => {
  const expected = 'expected an integer from 5 to 86400 seconds';
  test('CLEF_AGENT_POLL_INTERVAL: derived as CACHE_TTL/10 in whole seconds', () => {
    assert.equal(load(env({ CLEF_AGENT_CACHE_TTL: '600' })).pollInterval, 60);
    assert.equal(load(env({ CLEF_AGENT_CACHE_TTL: '99' })).pollInterval, 9);
  });
  test('CLEF_AGENT_POLL_INTERVAL: derived value never below 5', () => assert.equal(load(env({ CLEF_AGENT_CACHE_TTL: '30' })).pollInterval, 5));
  test('CLEF_AGENT_POLL_INTERVAL: derived as 5 in JIT mode', () => {
    const c = load(env({ CLEF_AGENT_CACHE_TTL: '0' }));
    assert.equal(c.pollInterval, 5);
    assert.equal(c.pollIntervalExplicit, false);
  });
  test('CLEF_AGENT_POLL_INTERVAL: derivePollInterval matches SPEC §4.1', () => {
    assert.deepEqual([0, 30, 49, 50, 300, 604_800].map(derivePollInterval), [5, 5, 5, 5, 30, 60_480]);
  });
  test('CLEF_AGENT_POLL_INTERVAL: accepts an explicit value below CACHE_TTL', () => {
    const c = load(env({ CLEF_AGENT_POLL_INTERVAL: '20' }));
    assert.equal(c.pollInterval, 20);
    assert.equal(c.pollIntervalExplicit, true);
  });
  test('CLEF_AGENT_POLL_INTERVAL: accepts an explicit value below MAX_STALE in JIT mode', () =>
    assert.equal(load(env({ CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_POLL_INTERVAL: '60' })).pollInterval, 60));
  test('CLEF_AGENT_POLL_INTERVAL: rejects a value below 5', () =>
    void refuseWith(env({ CLEF_AGENT_POLL_INTERVAL: '4' }), [`CLEF_AGENT_POLL_INTERVAL: 4 is below the minimum; ${expected}`]));
  test('CLEF_AGENT_POLL_INTERVAL: rejects a value above a day', () =>
    void refuseWith(env({ CLEF_AGENT_POLL_INTERVAL: '86401' }), [`CLEF_AGENT_POLL_INTERVAL: 86401 is above the maximum; ${expected}`]));
  test('CLEF_AGENT_POLL_INTERVAL: rejects a value not below CACHE_TTL in cached mode', () =>
    void refuseWith(env({ CLEF_AGENT_POLL_INTERVAL: '300' }), [
      'CLEF_AGENT_POLL_INTERVAL: 300 is not below CLEF_AGENT_CACHE_TTL (300); expected an interval shorter than CLEF_AGENT_CACHE_TTL, so a refresh can happen before the cache expires',
    ]));
  test('CLEF_AGENT_POLL_INTERVAL: rejects a value not below MAX_STALE in JIT mode', () =>
    void refuseWith(env({ CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_MAX_STALE: '60', CLEF_AGENT_POLL_INTERVAL: '60' }), [
      'CLEF_AGENT_POLL_INTERVAL: 60 is not below CLEF_AGENT_MAX_STALE (60); expected an interval shorter than CLEF_AGENT_MAX_STALE in JIT mode, so a refresh can happen before the artifact goes stale',
    ]));
  test('CLEF_AGENT_POLL_INTERVAL: an invalid CACHE_TTL is reported alone, not as a poll conflict', () =>
    void refuseWith(env({ CLEF_AGENT_CACHE_TTL: '10', CLEF_AGENT_POLL_INTERVAL: '20' }), [
      'CLEF_AGENT_CACHE_TTL: 10 is below the minimum; expected 0 (JIT mode) or an integer of at least 30 seconds',
    ]));
});
