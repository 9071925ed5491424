/**
 * src/serving/failure-log.ts: failed JIT requests reach the log without flooding it — the first of
 * each reason at once, the rest of its window as one count line, and the end of an outage once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Logger } from '../../src/log.js';
import { FailureLog } from '../../src/serving/failure-log.js';
import { sleep } from '../kit/index.js';

interface Line {
  readonly level: 'warn' | 'info';
  readonly fields: Record<string, unknown>;
  readonly msg: string;
}

function recorder(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const at =
    (level: Line['level']) =>
    (fields: Record<string, unknown>, msg: string): void => {
      lines.push({ level, fields, msg });
    };
  // Only the two methods FailureLog calls; the cast says so instead of faking all of pino.
  const log = { warn: at('warn'), info: at('info') } as unknown as Logger;
  return { log, lines };
}

describe('FailureLog', () => {
  test('the first failure of a reason is logged at once, the rest of its window as one count', () => {
    const { log, lines } = recorder();
    let now = 1_000;
    const f = new FailureLog(log, 10_000, () => now);
    f.failed('kms_denied', 'KMS Decrypt denied (AccessDeniedException, HTTP 400)');
    assert.equal(lines.length, 1);
    assert.deepEqual(lines[0]?.fields, { event: 'jit.failed', mode: 'jit', reason: 'kms_denied' });
    assert.match(lines[0]?.msg ?? '', /AccessDeniedException/);
    for (let i = 0; i < 5; i++) {
      now += 100;
      f.failed('kms_denied', 'same again');
    }
    assert.equal(lines.length, 1, 'no line per request inside the window');
    f.flush();
    assert.equal(lines.length, 2);
    assert.deepEqual(lines[1]?.fields, { event: 'jit.failed', mode: 'jit', reason: 'kms_denied', count: 5 });
    f.flush();
    assert.equal(lines.length, 2, 'a count is reported once');
  });

  test('a failure after the window opens a new one; reasons are counted apart', () => {
    const { log, lines } = recorder();
    let now = 0;
    const f = new FailureLog(log, 10_000, () => now);
    f.failed('kms_unavailable', 'ThrottlingException');
    f.failed('kms_unavailable', 'ThrottlingException');
    f.failed('timeout', 'the worker task exceeded its 5000 ms deadline');
    assert.deepEqual(
      lines.map((l) => l.fields['reason']),
      ['kms_unavailable', 'timeout'],
    );
    now = 10_000;
    f.failed('kms_unavailable', 'ThrottlingException');
    // The old window's count first, then the new window's first failure.
    assert.deepEqual(
      lines.slice(2).map((l) => [l.fields['reason'], l.fields['count']]),
      [
        ['kms_unavailable', 1],
        ['kms_unavailable', undefined],
      ],
    );
    f.flush();
  });

  test('success after failures is logged once, with the outstanding counts first', () => {
    const { log, lines } = recorder();
    const f = new FailureLog(log, 10_000, () => 0);
    f.succeeded();
    assert.equal(lines.length, 0, 'nothing to report while all is well');
    f.failed('kms_denied', 'denied');
    f.failed('kms_denied', 'denied');
    f.succeeded();
    f.succeeded();
    assert.deepEqual(
      lines.map((l) => [l.level, l.fields['event'], l.fields['count']]),
      [
        ['warn', 'jit.failed', undefined],
        ['warn', 'jit.failed', 1],
        ['info', 'jit.recovered', undefined],
      ],
    );
    f.failed('kms_denied', 'denied');
    assert.equal(lines.length, 4, 'a new outage is reported at once');
    f.flush();
  });

  test('a window that ends without another failure still reports its count (timer)', async () => {
    const { log, lines } = recorder();
    const f = new FailureLog(log, 20);
    f.failed('overloaded', 'the worker queue is full');
    f.failed('overloaded', 'the worker queue is full');
    f.failed('overloaded', 'the worker queue is full');
    for (let i = 0; i < 200 && lines.length < 2; i++) await sleep(10);
    assert.deepEqual(lines[1]?.fields, { event: 'jit.failed', mode: 'jit', reason: 'overloaded', count: 2 });
  });
});
