import type { RefreshStatus } from '../refresh/refresher.js';
import type { ServingState } from '../refresh/schedule.js';
import type { Readiness } from './mode.js';

/** The `/v1/health` body, the same for both modes: everything an operator needs at a glance. */
export function healthBody(mode: 'cached' | 'jit', s: RefreshStatus, state: ServingState, keys: number): Record<string, unknown> {
  return {
    status: 'ok',
    mode,
    revision: s.meta?.revision ?? null,
    lastRefreshAt: s.lastSuccessAt ?? null,
    expired: state === 'expired' || state === 'cache_expired',
    ready: state === 'ok',
    state,
    packedAt: s.meta?.packedAt ?? null,
    expiresAt: s.meta?.expiresAt ?? null,
    revokedAt: s.revokedAt ?? null,
    keys,
    lastAttemptAt: s.lastAttemptAt ?? null,
    lastError: s.lastError ?? null,
  };
}

export function readiness(state: ServingState): Readiness {
  return state === 'ok' ? { ready: true } : { ready: false, reason: state };
}
