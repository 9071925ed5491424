/**
 * The rollback state file (SPEC §4.3 step 7, §4.4): `<name>.state.json` next to the disk cache
 * files, holding the high-water `packedAt` (the rollback floor) and an active revocation, so that
 * a restart neither lets an older signed artifact back in nor ends a revocation with the replayed
 * pre-revocation artifact. It holds no secret. Unlike the cache copy, a bad state file is an error,
 * not a warning: ignoring it would reopen exactly the rollback it exists to close.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { errnoCode } from '../../common/display.js';
import { assertTrustedDir, openTrustedFile, UntrustedFileError } from '../../common/file-trust.js';
import { syncDir, writeFileAtomic } from '../../common/files.js';
import { parseIsoDate } from '../../common/iso-date.js';
import { PACKED_AT_MAX_AHEAD_MS } from '../../common/limits.js';
import type { ReadStateResult, RollbackState, WriteStateResult } from '../../common/protocol.js';
import { taskFailure } from '../../common/task-failure.js';

/** A state file holds two short fields; anything bigger is not ours. */
const STATE_MAX_BYTES = 4096;
/** Longest `revokedAt` kept: the validator already cuts the artifact's value to 100 characters. */
const REVOKED_AT_MAX = 200;

export function stateFile(dir: string, name: string): string {
  return join(dir, `${name}.state.json`);
}

/** Missing → a fresh start (`state: null`); unreadable, untrusted or malformed → a failure naming the file. */
export async function readState(dir: string, name: string, nowMs: number): Promise<ReadStateResult> {
  const path = stateFile(dir, name);
  const refuse = (problem: string): ReadStateResult =>
    taskFailure(
      'state_invalid',
      `rollback state file ${path} is ${problem}. It holds the rollback floor and any active revocation, so the agent does not start without it: ` +
        'fix or restore it, or delete it to start without rollback protection from earlier runs (only if the source serves a current, non-revoked artifact)',
    );
  let raw: string;
  try {
    await assertTrustedDir(dir).catch((err: unknown) => {
      throw err instanceof UntrustedFileError ? new UntrustedFileError(`its directory ${err.message}`) : err;
    });
    // The same rule as every cache file (common/file-trust.ts): what is judged is what is read.
    const fh = await openTrustedFile(path);
    try {
      if ((await fh.stat()).size > STATE_MAX_BYTES) return refuse(`untrusted: it is larger than ${STATE_MAX_BYTES} bytes`);
      raw = (await fh.readFile()).toString('utf8');
    } finally {
      await fh.close().catch(() => undefined);
    }
  } catch (err) {
    if (err instanceof UntrustedFileError) return refuse(`untrusted: ${err.message.startsWith('its directory') ? '' : 'it '}${err.message}`);
    const code = errnoCode(err);
    if (code === 'ENOENT') return { ok: true, state: null };
    return refuse(code === 'ELOOP' ? 'untrusted: it is a symbolic link' : `unreadable (${code ?? 'error'})`);
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return refuse('corrupted: not valid JSON');
  }
  const parsed = parseState(value);
  if (typeof parsed === 'string') return refuse(`corrupted: ${parsed}`);
  const floorMs = parsed.floor === undefined ? null : parseIsoDate(parsed.floor);
  if (floorMs !== null && floorMs > nowMs + PACKED_AT_MAX_AHEAD_MS) {
    return refuse(`recording a packedAt (${parsed.floor}) ahead of this host's clock (${new Date(nowMs).toISOString()}); check the clock`);
  }
  return { ok: true, state: parsed };
}

/** The problem, or the state. Every field is checked: this file decides what the agent refuses. */
function parseState(v: unknown): RollbackState | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const o = v as Record<string, unknown>;
  if (o['v'] !== 1) return 'unknown version (expected "v": 1)';
  const floor = o['floor'];
  if (floor !== undefined && (typeof floor !== 'string' || parseIsoDate(floor) === null)) return '"floor" is not an ISO-8601 date-time';
  const rev = o['revocation'];
  if (rev === undefined) return { floor };
  if (typeof rev !== 'object' || rev === null || Array.isArray(rev)) return '"revocation" is not an object';
  const r = rev as Record<string, unknown>;
  if (typeof r['revokedAt'] !== 'string' || r['revokedAt'].length > REVOKED_AT_MAX) return '"revocation.revokedAt" is not a short string';
  if (typeof r['seenAt'] !== 'string' || parseIsoDate(r['seenAt']) === null) return '"revocation.seenAt" is not an ISO-8601 date-time';
  return { floor, revocation: { revokedAt: r['revokedAt'], seenAt: r['seenAt'] } };
}

/** Replaces the file atomically (0600); the directory is created 0700 when missing. */
export async function writeState(dir: string, name: string, state: RollbackState): Promise<WriteStateResult> {
  const body = JSON.stringify({ v: 1, floor: state.floor, revocation: state.revocation });
  try {
    await mkdir(dir, { recursive: true, mode: 0o700 });
    await assertTrustedDir(dir);
    await writeFileAtomic(stateFile(dir, name), body, 0o600);
    await syncDir(dir);
  } catch (err) {
    const why = err instanceof UntrustedFileError ? `its directory ${err.message}` : (errnoCode(err) ?? 'error');
    return taskFailure('internal', `rollback state file ${stateFile(dir, name)} could not be written (${why})`);
  }
  return { ok: true };
}
