/**
 * The time rules of SPEC §4 (src/refresh/schedule.ts), in-process with an injected clock: every
 * function takes `nowMs`, so the "clock" is a fixed instant plus offsets.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { MIN_POLL_SECONDS, STARTUP_ATTEMPTS } from '../../common/limits.js';
import { nextPollDelayMs, servingState, startupBackoffMs, type ServingInputs } from '../../src/refresh/schedule.js';
import { derivePollInterval } from '../../src/config/timing.js';

/** The injected clock: a fixed instant; every test reasons in offsets from it. */
const NOW = Date.parse('2026-03-01T12:00:00.000Z');
const S = 1000;

describe('§4.1 nextPollDelayMs', { timeout: 30_000 }, () => {
  it('§4.1: without expiresAt the delay is the poll interval', () => {
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 30 }), 30 * S);
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 5 }), 5 * S);
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 3600 }), 3600 * S);
  });

  it('§4.1: an expiry far away does not shorten the interval', () => {
    // 80 % of 100 s = 80 s, later than the 30 s interval.
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 30, expiresAtMs: NOW + 100 * S }), 30 * S);
  });

  it('§4.1: polls sooner, at 80 % of the time left to expiresAt, when that comes first', () => {
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 30, expiresAtMs: NOW + 20 * S }), 16 * S);
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 300, expiresAtMs: NOW + 100 * S }), 80 * S);
    // Whole milliseconds (floored).
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 30, expiresAtMs: NOW + 12_345 }), 9_876);
  });

  it('§4.1: never more often than every 5 s, however close expiresAt is', () => {
    assert.equal(MIN_POLL_SECONDS, 5);
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 30, expiresAtMs: NOW + 3 * S }), 5 * S);
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 30, expiresAtMs: NOW + 1 }), 5 * S);
    // Exactly at the floor: 80 % of 6.25 s = 5 s.
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 30, expiresAtMs: NOW + 6_250 }), 5 * S);
  });

  it('§4.1: an interval below 5 s (not configurable, but defensive) is raised to 5 s', () => {
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 1 }), 5 * S);
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 0 }), 5 * S);
  });

  it('§4.1: an expiresAt already past leaves the interval (the expiry itself stops serving)', () => {
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 30, expiresAtMs: NOW }), 30 * S);
    assert.equal(nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: 30, expiresAtMs: NOW - 60 * S }), 30 * S);
  });

  it('§4.1 property: 5 s ≤ delay ≤ max(interval, 5 s), and never later than 80 % of the time left (unless floored)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 86_400 }), fc.option(fc.integer({ min: -1e9, max: 1e10 }), { nil: undefined }), (interval, offset) => {
        const expiresAtMs = offset === undefined ? undefined : NOW + offset;
        const d = nextPollDelayMs({ nowMs: NOW, pollIntervalSeconds: interval, expiresAtMs });
        assert.ok(Number.isInteger(d));
        assert.ok(d >= 5 * S);
        assert.ok(d <= Math.max(interval * S, 5 * S));
        if (offset !== undefined && offset > 0) assert.ok(d <= Math.max(5 * S, Math.floor(offset * 0.8)));
      }),
    );
  });
});

describe('§4.1 the derived poll interval (src/config/timing.ts)', { timeout: 30_000 }, () => {
  it('§4.1: the default poll interval is CACHE_TTL/10', () => {
    assert.equal(derivePollInterval(300), 30);
    assert.equal(derivePollInterval(3600), 360);
    assert.equal(derivePollInterval(600), 60);
    assert.equal(derivePollInterval(60), 6);
  });

  it('§4.1: whole seconds (CACHE_TTL/10 rounded down)', () => {
    assert.equal(derivePollInterval(301), 30);
    assert.equal(derivePollInterval(69), 6);
  });

  it('§4.1: 5 s in JIT mode (CACHE_TTL=0) and never below 5 s', () => {
    assert.equal(derivePollInterval(0), 5);
    assert.equal(derivePollInterval(30), 5);
    assert.equal(derivePollInterval(49), 5);
    assert.equal(derivePollInterval(55), 5);
  });

  it('§4.1 property: derived interval = max(5, floor(ttl/10)) for every valid cached TTL', () => {
    fc.assert(
      fc.property(fc.integer({ min: 30, max: 10_000_000 }), (ttl) => {
        assert.equal(derivePollInterval(ttl), Math.max(5, Math.floor(ttl / 10)));
      }),
    );
  });
});

describe('§4.3 / §5 servingState', { timeout: 30_000 }, () => {
  const base: ServingInputs = { nowMs: NOW, loaded: true, revoked: false, expiredFlag: false, lastSuccessAtMs: NOW - 10 * S, freshnessSeconds: 30 };

  it('§5 ready: a loaded, fresh, unexpired artifact is served', () => {
    assert.equal(servingState(base), 'ok');
    assert.equal(servingState({ ...base, expiresAtMs: NOW + 1 }), 'ok');
  });

  it('§4.2: nothing loaded yet → not_loaded', () => {
    assert.equal(servingState({ ...base, loaded: false, lastSuccessAtMs: undefined }), 'not_loaded');
  });

  it('§4.3 step 1: revocation wins over everything (it is the kill switch)', () => {
    assert.equal(servingState({ ...base, revoked: true }), 'revoked');
    assert.equal(servingState({ ...base, revoked: true, expiredFlag: true }), 'revoked');
    assert.equal(servingState({ ...base, revoked: true, loaded: false, lastSuccessAtMs: undefined }), 'revoked');
    assert.equal(servingState({ ...base, revoked: true, expiresAtMs: NOW - S }), 'revoked');
    assert.equal(servingState({ ...base, revoked: true, lastSuccessAtMs: NOW - 3600 * S }), 'revoked');
  });

  it('§4.3 step 4: expiry comes next: the expired flag, before not_loaded and freshness', () => {
    assert.equal(servingState({ ...base, expiredFlag: true }), 'expired');
    assert.equal(servingState({ ...base, expiredFlag: true, loaded: false, lastSuccessAtMs: undefined }), 'expired');
    assert.equal(servingState({ ...base, expiredFlag: true, lastSuccessAtMs: NOW - 3600 * S }), 'expired');
  });

  it('§4.3 step 4: the served artifact is expired at the instant expiresAt is reached, without waiting for a timer', () => {
    assert.equal(servingState({ ...base, expiresAtMs: NOW }), 'expired');
    assert.equal(servingState({ ...base, expiresAtMs: NOW - 1 }), 'expired');
    assert.equal(servingState({ ...base, expiresAtMs: NOW + 1 }), 'ok');
    // Expiry beats staleness.
    assert.equal(servingState({ ...base, expiresAtMs: NOW - 1, lastSuccessAtMs: NOW - 3600 * S }), 'expired');
  });

  it('§4.3 cached mode: CACHE_TTL without a successful refresh → cache_expired (the TTL itself is still fresh)', () => {
    assert.equal(servingState({ ...base, lastSuccessAtMs: NOW - 30 * S }), 'ok');
    assert.equal(servingState({ ...base, lastSuccessAtMs: NOW - 30 * S - 1 }), 'cache_expired');
    assert.equal(servingState({ ...base, lastSuccessAtMs: undefined }), 'cache_expired');
  });

  it('§4.3 property: the state follows the documented precedence revoked > expired > not_loaded > cache_expired > ok', () => {
    fc.assert(
      fc.property(
        fc.boolean(),
        fc.boolean(),
        fc.boolean(),
        fc.option(fc.integer({ min: -1e6, max: 1e6 }), { nil: undefined }),
        fc.option(fc.integer({ min: 0, max: 1e6 }), { nil: undefined }),
        fc.integer({ min: 0, max: 1000 }),
        (revoked, expiredFlag, loaded, expOff, ageMs, ttl) => {
          const s: ServingInputs = {
            nowMs: NOW,
            loaded,
            revoked,
            expiredFlag,
            expiresAtMs: expOff === undefined ? undefined : NOW + expOff,
            lastSuccessAtMs: ageMs === undefined ? undefined : NOW - ageMs,
            freshnessSeconds: ttl,
          };
          let want: string;
          if (revoked) want = 'revoked';
          else if (expiredFlag) want = 'expired';
          else if (!loaded) want = 'not_loaded';
          else if (expOff !== undefined && expOff <= 0) want = 'expired';
          else if (ageMs === undefined || ageMs > ttl * S) want = 'cache_expired';
          else want = 'ok';
          assert.equal(servingState(s), want);
        },
      ),
    );
  });
});

describe('§4.2 startupBackoffMs', { timeout: 30_000 }, () => {
  it('§4.2: 3 attempts of the whole load', () => {
    assert.equal(STARTUP_ATTEMPTS, 3);
  });

  it('§4.2: exponential backoff between attempts; the first attempt does not wait', () => {
    assert.equal(startupBackoffMs(1), 0);
    assert.equal(startupBackoffMs(2), 500);
    assert.equal(startupBackoffMs(3), 1000);
    assert.equal(startupBackoffMs(4), 2000);
  });

  it('§4.2: the base is configurable and every later attempt doubles it', () => {
    assert.equal(startupBackoffMs(2, 100), 100);
    assert.equal(startupBackoffMs(3, 100), 200);
    assert.equal(startupBackoffMs(0, 100), 0);
    for (let n = 2; n < 10; n++) assert.equal(startupBackoffMs(n + 1, 250), 2 * startupBackoffMs(n, 250));
  });
});
