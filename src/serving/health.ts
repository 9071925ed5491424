import type { RefreshStatus } from '../refresh/sink.js';
import { servingState, type ServingState } from '../refresh/schedule.js';
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

/** What a mode adds to the refresh status to judge its state: the time, whether it holds an artifact, how long one stays fresh. */
export interface StateInputs {
  readonly nowMs: number;
  readonly loaded: boolean;
  readonly freshnessSeconds: number;
}

/** The serving state of either mode: the refresh status read through the pure rules of schedule.ts. */
export function stateOf(s: RefreshStatus, { nowMs, loaded, freshnessSeconds }: StateInputs): ServingState {
  return servingState({
    nowMs,
    loaded,
    revoked: s.revokedAt !== undefined,
    expiredFlag: s.expired,
    expiresAtMs: s.meta?.expiresAtMs,
    lastSuccessAtMs: s.lastSuccessAt,
    freshnessSeconds,
  });
}
