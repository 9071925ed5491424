/**
 * SPEC §7: a telemetry endpoint that is down, hangs, is slow or answers 500 never holds up a
 * request or the refresh loop. Behavioural: while the collector misbehaves — for the log records
 * and for the metrics, exported every second here — a new artifact is picked up by a poll and
 * served, and the agent says the export fails.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OtlpCollector, type CollectorBehaviour } from '../../emulators/otlp-collector.js';
import { waitUntil } from '../kit/index.js';
import { assertServing, isEvent, refreshed, startPolled } from '../helpers/scenario.js';

const FAULTS: readonly { readonly name: string; readonly behaviour?: CollectorBehaviour; readonly down?: true }[] = [
  { name: 'down (connection refused)', down: true },
  { name: 'hanging', behaviour: { kind: 'hang' } },
  { name: 'slow (answers after 60 s)', behaviour: { kind: 'slow', delayMs: 60_000 } },
  { name: 'answering 500', behaviour: { kind: 'status', status: 500, times: 1_000 } },
];

describe('§7 telemetry faults', { concurrency: true }, () => {
  for (const fault of FAULTS) {
    it(`§7: collector ${fault.name}: start-up, requests and refreshes go on`, { timeout: 120_000 }, async (t) => {
      const c = await new OtlpCollector().start();
      t.after(() => c.close());
      if (fault.down) await c.refuseConnections();
      if (fault.behaviour) c.behaviour = fault.behaviour;
      const p = await startPolled({ payload: { app: { K: 'one' } }, env: { OTEL_EXPORTER_OTLP_ENDPOINT: c.endpoint, OTEL_METRIC_EXPORT_INTERVAL: '1000' } });
      t.after(() => p.close());
      await assertServing(p, { app: { K: 'one' } });
      if (!fault.down) await waitUntil(() => c.requests.length > 0, 30_000, 'the agent tried to export');

      // A poll picks up a new artifact while the export is stuck or failing.
      await p.swap(await p.artifact({ payload: { app: { K: 'two' } }, revision: 'rev-two' }), refreshed('rev-two'), 30_000);
      await assertServing(p, { app: { K: 'two' } });
      if (fault.down || fault.behaviour?.kind === 'status') {
        await p.agent.logAfter(0, (l) => isEvent('telemetry.export_failed')(l) && l['signal'] === 'metrics', 30_000);
        await p.agent.logAfter(0, (l) => isEvent('telemetry.export_failed')(l) && l['signal'] === 'logs', 30_000);
        assert.ok(c.requests.every((r) => r.status !== 200));
      }
      // The flush on SIGTERM gives up within the stop deadline: a clean exit, not the forced one.
      p.agent.child.kill('SIGTERM');
      assert.equal(await p.agent.exited(30_000), 0);
      assert.ok(p.agent.logs().some(isEvent('agent.stopped')));
    });
  }
});
