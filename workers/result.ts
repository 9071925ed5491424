/**
 * Small helpers shared by every worker module: building tagged failures and keeping secrets out of
 * the messages they carry.
 */
import type { FailureCode, TaskFailure } from '../common/protocol.js';

/** Builds the tagged failure every worker step returns (never throws across the pool boundary). */
export function fail(code: FailureCode, message: string, status?: number): TaskFailure {
  return status === undefined ? { ok: false, code, message } : { ok: false, code, message, status };
}

export function isFailure(v: unknown): v is TaskFailure {
  return typeof v === 'object' && v !== null && (v as { ok?: unknown }).ok === false;
}
