/**
 * The failure table (common/failures.ts) is complete and consistent with the reason table
 * (common/reasons.ts), and what reads it answers as before: the start-up hint, the refresher's log
 * event and the API answer of a JIT request whose worker task failed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FAILURES, failureInfo, type FailureCategory, type FailureCode } from '../../common/failures.js';
import type { ArtifactMeta, EncryptedArtifact, ServeResult, TaskFailure } from '../../common/protocol.js';
import { REASONS, type Reason } from '../../common/reasons.js';
import { ApiError } from '../../src/errors.js';
import type { WorkerPool } from '../../src/pool.js';
import type { Refresher } from '../../src/refresh/refresher.js';
import { JitMode } from '../../src/serving/jit.js';
import { startupHint } from '../../src/startup.js';

const CODES = Object.keys(FAILURES) as FailureCode[];
const CATEGORIES: readonly FailureCategory[] = ['fetch', 'validation', 'decrypt', 'kms', 'credentials', 'setup', 'pool', 'internal'];

describe('the failure table', () => {
  test('every code has a known category, a known reason, a transient flag and a hint', () => {
    for (const code of CODES) {
      const f = FAILURES[code];
      assert.match(code, /^[a-z]+(_[a-z]+)*$/, code);
      assert.ok(CATEGORIES.includes(f.category), `${code}: category ${f.category}`);
      assert.ok(Object.hasOwn(REASONS, f.reason), `${code}: reason ${f.reason}`);
      assert.equal(typeof f.transient, 'boolean', code);
      assert.ok(f.hint.length > 0, `${code}: hint`);
    }
    for (const category of CATEGORIES)
      assert.ok(
        CODES.some((c) => FAILURES[c].category === category),
        `no code in ${category}`,
      );
  });

  test('every reason maps to an HTTP error status and a short message; a failed task always answers 503', () => {
    for (const [reason, info] of Object.entries(REASONS)) {
      assert.ok(Number.isInteger(info.status) && info.status >= 400 && info.status <= 599, reason);
      assert.ok(info.error.length > 0, reason);
      if (info.retryAfterSeconds !== undefined) assert.ok(Number.isInteger(info.retryAfterSeconds) && info.retryAfterSeconds > 0, reason);
    }
    // A failed task is the agent's or an upstream's trouble, never the client's request.
    for (const code of CODES) assert.equal(REASONS[FAILURES[code].reason].status, 503, code);
  });

  test('only fetch_status varies with the HTTP status: by exact status, else by its class', () => {
    for (const code of CODES) {
      const byStatus = FAILURES[code].byStatus;
      if (code !== 'fetch_status') {
        assert.equal(byStatus, undefined, code);
        continue;
      }
      assert.ok(byStatus !== undefined);
      for (const [key, override] of Object.entries(byStatus)) {
        assert.match(key, /^[1-5](\d\d|xx)$/, key);
        assert.ok(override.hint !== undefined || override.transient !== undefined, key);
      }
    }
    const at = (status?: number) => failureInfo({ code: 'fetch_status', status });
    assert.equal(at(401).hint, at(403).hint);
    assert.match(at(403).hint, /^access denied/);
    assert.match(at(404).hint, /^not found: the artifact is not packed yet/);
    assert.equal(at(400).hint, FAILURES.fetch_status.hint);
    assert.equal(at().hint, FAILURES.fetch_status.hint);
    assert.deepEqual(
      [400, 401, 403, 404, 429, 500, 502, 503].map((s) => at(s).transient),
      [false, false, false, false, true, true, true, true],
    );
    // Other codes ignore a status.
    assert.equal(failureInfo({ code: 'fetch_failed', status: 404 }), FAILURES.fetch_failed);
  });

  test('the refresher logs fetch.failed for exactly the codes where the artifact never arrived', () => {
    const fetchCodes = CODES.filter((c) => FAILURES[c].category === 'fetch').sort();
    assert.deepEqual(fetchCodes, [
      'credentials_unavailable',
      'fetch_failed',
      'fetch_status',
      'fetch_timeout',
      'forbidden_address',
      'forbidden_redirect',
      'insecure_source',
      'source_unreadable',
      'too_large',
    ]);
  });

  test('the start-up hint is the table’s, per status for fetch_status; credential failures have their own', () => {
    for (const code of CODES) assert.equal(startupHint({ ok: false, code, message: 'm' }), FAILURES[code].hint, code);
    assert.equal(startupHint({ ok: false, code: 'fetch_status', message: 'm', status: 404 }), failureInfo({ code: 'fetch_status', status: 404 }).hint);
    assert.match(startupHint({ ok: true, outcome: 'revoked', revokedAt: '2026-01-01T00:00:00Z' }), /revoked/);
    assert.match(FAILURES.credentials_denied.hint, /AWS_ROLE_ARN/);
    assert.match(FAILURES.credentials_unreachable.hint, /network access to STS/);
    assert.doesNotMatch(FAILURES.credentials_denied.hint, /kms:Decrypt/);
    // For the client a credential failure is KMS's: the same reasons as KMS's own denial and outage.
    assert.equal(FAILURES.credentials_denied.reason, FAILURES.kms_denied.reason);
    assert.equal(FAILURES.credentials_unreachable.reason, FAILURES.kms_unavailable.reason);
    assert.equal(FAILURES.credentials_unreachable.transient, FAILURES.kms_unavailable.transient);
  });
});

describe('a JIT request whose worker task failed', () => {
  const NOW = Date.parse('2026-03-01T12:00:00.000Z');
  const meta: ArtifactMeta = {
    identity: 'api',
    environment: 'production',
    revision: 'r1',
    packedAt: '2026-03-01T11:00:00.000Z',
    packedAtMs: NOW - 3_600_000,
    ciphertextHash: 'h',
    signed: false,
    encryption: 'age',
  };
  const artifact: EncryptedArtifact = { ciphertextHash: 'h', ageFile: new Uint8Array(1) };

  /** JIT mode holding an artifact, with a pool whose every task fails with `code`. */
  function modeFailingWith(code: FailureCode): JitMode {
    const failure: TaskFailure = { ok: false, code, message: `failed with ${code}` };
    // A request is admitted, then batched (src/serving/jit-batch.ts): only `admit`, `size` and
    // `runBatch` are used; the cast says so instead of starting workers.
    const pool = {
      size: 1,
      admit: (): undefined => undefined,
      runBatch: (_task: unknown, o: { readonly arrivedAt: readonly number[] }): Promise<ServeResult>[] => o.arrivedAt.map(() => Promise.resolve(failure)),
    } as unknown as WorkerPool;
    const mode = new JitMode(pool, 60, 5_000, () => NOW);
    // A refresher that just loaded: only its status is read.
    mode.attach({ status: { expired: false, meta, lastSuccessAt: NOW } } as unknown as Refresher);
    mode.accept(meta, { kind: 'artifact', artifact, keyCount: 1 });
    return mode;
  }

  async function answer(code: FailureCode): Promise<ApiError> {
    const err: unknown = await modeFailingWith(code)
      .secrets()
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof ApiError, `${code}: ${String(err)}`);
    return err;
  }

  test('answers as before: pool codes, KMS and credential codes, anything else decrypt_failed', async () => {
    const expected: [FailureCode, Reason][] = [
      ['overloaded', 'overloaded'],
      ['task_timeout', 'timeout'],
      ['kms_denied', 'kms_denied'],
      ['kms_unavailable', 'kms_unavailable'],
      ['credentials_denied', 'kms_denied'],
      ['credentials_unreachable', 'kms_unavailable'],
      ['decrypt_failed', 'decrypt_failed'],
      ['invalid_payload', 'decrypt_failed'],
      ['unsupported_encryption', 'decrypt_failed'],
      ['key_unreadable', 'decrypt_failed'],
      ['key_invalid', 'decrypt_failed'],
      ['no_key', 'decrypt_failed'],
      ['internal', 'decrypt_failed'],
    ];
    for (const [code, reason] of expected) {
      const err = await answer(code);
      assert.equal(err.reason, reason, code);
      assert.equal(err.status, 503, code);
      assert.deepEqual(JSON.parse(err.body()), { error: REASONS[reason].error, reason }, code);
    }
  });

  test('overloaded tells the client when to retry; no other failure does', async () => {
    assert.deepEqual((await answer('overloaded')).headers, { 'Retry-After': '1' });
    for (const code of ['task_timeout', 'kms_unavailable', 'credentials_unreachable', 'decrypt_failed'] as const) {
      assert.equal((await answer(code)).headers, undefined, code);
    }
  });
});
