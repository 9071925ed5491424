/**
 * SPEC §6/§7: a stop flushes telemetry. A stop can come right after the first load, while the
 * export is still loading the OpenTelemetry SDK (`start` has not settled): the flush must wait for
 * that start (within its deadline), or the events and metrics counted until the stop are never
 * sent. Deterministic: `flush` is called in the same tick as `start`, before any dynamic import
 * can have resolved.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { OtlpCollector } from '../../emulators/otlp-collector.js';
import { loadConfig } from '../../src/config/index.js';
import { createLogger } from '../../src/log.js';
import { Events } from '../../src/telemetry/events.js';
import { setUpTelemetry } from '../../src/telemetry/index.js';
import { suiteTempDirs } from '../kit/index.js';

const dirs = suiteTempDirs('clef-telemetry-flush-');

describe('§7 telemetry flush on stop', () => {
  it('§7: a flush called while the export is still starting waits for it and sends the early events', async (t) => {
    const collector = await new OtlpCollector().start();
    t.after(() => collector.close());
    const dir = dirs.make();
    const source = join(dir, 'artifact.json');
    writeFileSync(source, '{}');
    // Checked for existence and mode by the config, never read here.
    writeFileSync(join(dir, 'key.txt'), 'AGE-SECRET-KEY-1PLACEHOLDER\n', { mode: 0o600 });
    const config = loadConfig({
      CLEF_AGENT_SOURCE: source,
      CLEF_AGENT_AGE_KEY_FILE: join(dir, 'key.txt'),
      CLEF_AGENT_TOKEN: 'flush-test-token-0123456789abcdef',
      CLEF_AGENT_TELEMETRY_URL: `${collector.endpoint}/v1/logs`,
    });
    const log = createLogger('silent');
    const events = new Events(log);
    const telemetry = setUpTelemetry(config, '0.0.0-test', events, log);
    assert.ok(telemetry !== undefined);
    // A failed first attempt, as before a stop during start-up: buffered until export starts.
    events.emit('fetch.failed', { reason: 'fetch_status', attempt: 1 }, 'fetch failed');
    const starting = telemetry.start('app', 'dev', {});
    await telemetry.flush(10_000);
    const names = collector.records().map((r) => r.eventName);
    assert.deepEqual(names, ['fetch.failed'], 'the flush sent what was buffered before the start settled');
    await starting;
  });
});
