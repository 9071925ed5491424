/**
 * `POST /v1/refresh` (SPEC §10.5): one refresh now, shared with any already in flight, at most one
 * accepted per MANUAL_REFRESH_INTERVAL_MS (else 429 `refresh_rate_limited` with `Retry-After`).
 * Answers once the refresh is done: `{"revision", "changed"}`; a failed refresh answers its error
 * (the failure table's reason, plus the failure `code`) while serving goes on from the last good
 * snapshot. Any valid token may ask — the main one or a scoped one: the answer tells nothing that
 * `/v1/health` (no token at all) does not, and the rate limit is global.
 */
import { MANUAL_REFRESH_INTERVAL_MS } from '../../common/limits.js';
import { ApiError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Refresher } from './refresher.js';
import type { Clock } from './timers.js';

export class OnDemandRefresh {
  private lastAcceptedAt: number | undefined;

  constructor(
    private readonly refresher: Pick<Refresher, 'refresh' | 'status'>,
    private readonly log: Logger,
    private readonly clock: Clock = Date.now,
  ) {}

  /** `token` is the asking token's name, for the log. Rejects with an ApiError. */
  async request(token: string): Promise<Record<string, unknown>> {
    const now = this.clock();
    if (this.lastAcceptedAt !== undefined && now - this.lastAcceptedAt < MANUAL_REFRESH_INTERVAL_MS) {
      const wait = Math.max(1, Math.ceil((this.lastAcceptedAt + MANUAL_REFRESH_INTERVAL_MS - now) / 1000));
      throw new ApiError('refresh_rate_limited', { headers: { 'Retry-After': String(wait) } });
    }
    this.lastAcceptedAt = now;
    const before = this.refresher.status.meta?.ciphertextHash;
    const r = await this.refresher.refresh('api');
    const meta = this.refresher.status.meta;
    this.log.info(
      { event: 'refresh.requested', token, outcome: r.ok ? r.outcome : 'failed', code: r.ok ? undefined : r.code, revision: meta?.revision },
      `POST /v1/refresh by token ${token}: ${r.ok ? r.outcome : `failed (${r.code})`}`,
    );
    if (!r.ok) {
      const err = ApiError.forFailure(r.code);
      throw new ApiError(err.reason, { extra: { code: r.code } });
    }
    if (r.outcome === 'revoked') throw new ApiError('revoked');
    return { revision: meta?.revision ?? null, changed: meta !== undefined && meta.ciphertextHash !== before };
  }
}
