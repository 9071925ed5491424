/**
 * SPEC §7: the telemetry buffer is bounded and drops the oldest records while the collector does
 * not answer; one export is in flight at a time. Driven through the SDK's real LoggerProvider with
 * an exporter that answers only when the test says so.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { LoggerProvider, type LogRecordExporter, type ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { DropOldestBatcher } from '../../src/telemetry/otlp-logs.js';

class HeldExporter implements LogRecordExporter {
  readonly batches: { readonly bodies: unknown[]; readonly done: (r: ExportResult) => void }[] = [];
  export(logs: ReadableLogRecord[], done: (r: ExportResult) => void): void {
    this.batches.push({ bodies: logs.map((l) => l.body), done });
  }
  shutdown(): Promise<void> {
    return Promise.resolve();
  }
  forceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

function rig(): { exporter: HeldExporter; batcher: DropOldestBatcher; emit: (n: number) => void; results: boolean[] } {
  const exporter = new HeldExporter();
  const results: boolean[] = [];
  // A delay no test waits for: batches here start only by size.
  const batcher = new DropOldestBatcher(exporter, (ok) => results.push(ok), { maxQueue: 10, maxBatch: 2, delayMs: 3_600_000 });
  const logger = new LoggerProvider({ processors: [batcher] }).getLogger('test');
  let next = 0;
  const emit = (n: number): void => {
    for (let i = 0; i < n; i++) logger.emit({ body: `r${next++}` });
  };
  return { exporter, batcher, emit, results };
}

describe('§7 telemetry buffer', () => {
  it('§7: while an export hangs, at most maxQueue records wait and the oldest are dropped', () => {
    const { exporter, batcher, emit } = rig();
    emit(2);
    assert.equal(exporter.batches.length, 1, 'a full batch starts an export');
    assert.deepEqual(exporter.batches[0]?.bodies, ['r0', 'r1']);
    emit(25);
    assert.equal(exporter.batches.length, 1, 'one export in flight at a time');
    assert.equal(batcher.queued, 10);
    assert.equal(batcher.dropped, 15);
  });

  it('§7: once the hung export ends, the newest records go out, oldest first', async () => {
    const { exporter, batcher, emit, results } = rig();
    emit(27);
    exporter.batches[0]?.done({ code: ExportResultCode.FAILED });
    const flushed = batcher.forceFlush();
    // Answer every later batch as it comes.
    for (let i = 1; i < 7; i++) {
      await new Promise((r) => setImmediate(r));
      exporter.batches[i]?.done({ code: ExportResultCode.SUCCESS });
    }
    await flushed;
    assert.deepEqual(
      exporter.batches.slice(1).flatMap((b) => b.bodies),
      ['r17', 'r18', 'r19', 'r20', 'r21', 'r22', 'r23', 'r24', 'r25', 'r26'],
    );
    assert.equal(batcher.failed, 2);
    assert.deepEqual(results.slice(0, 2), [false, true]);
  });
});
