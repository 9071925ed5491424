/**
 * The OTLP collector emulator decodes what the SDK's own serializers produce, JSON and protobuf
 * alike, gzip or not, to the same records: the telemetry tests read what the agent really sent.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { SeverityNumber } from '@opentelemetry/api-logs';
import { JsonLogsSerializer, ProtobufLogsSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { OtlpCollector } from '../../emulators/otlp-collector.js';

function sdkRecords(): ReturnType<InMemoryLogRecordExporter['getFinishedLogRecords']> {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({
    resource: resourceFromAttributes({ 'service.name': 'clef-agent', 'clef.source.type': 'http' }),
    processors: [new SimpleLogRecordProcessor({ exporter })],
  });
  const logger = provider.getLogger('clef-agent');
  logger.emit({
    eventName: 'fetch.failed',
    severityNumber: SeverityNumber.WARN,
    severityText: 'WARN',
    body: 'fetch failed',
    attributes: { 'http.response.status_code': 404, 'clef.trigger': 'poll' },
  });
  logger.emit({ eventName: 'agent.started', severityNumber: SeverityNumber.INFO, severityText: 'INFO', body: 'started', attributes: { 'clef.signed': false } });
  return exporter.getFinishedLogRecords();
}

describe('OTLP collector emulator', () => {
  it('decodes the SDK’s JSON and protobuf encodings, gzip or not, to the same records', async (t) => {
    const c = await new OtlpCollector().start();
    t.after(() => c.close());
    const records = sdkRecords();
    const json = JsonLogsSerializer.serializeRequest(records);
    const proto = ProtobufLogsSerializer.serializeRequest(records);
    assert.ok(json && proto);
    const post = async (type: string, body: Uint8Array, gzip: boolean): Promise<number> => {
      const r = await fetch(`${c.endpoint}/v1/logs`, {
        method: 'POST',
        headers: { 'Content-Type': type, ...(gzip ? { 'Content-Encoding': 'gzip' } : {}) },
        body: gzip ? gzipSync(body) : body,
      });
      return r.status;
    };
    assert.equal(await post('application/json', json, false), 200);
    assert.equal(await post('application/x-protobuf', proto, false), 200);
    assert.equal(await post('application/x-protobuf', proto, true), 200);
    const byRequest = [0, 1, 2].map((i) =>
      c
        .records()
        .filter((r) => r.request === i)
        .map(({ request: _, ...rest }) => rest),
    );
    assert.deepEqual(byRequest[0], [
      {
        resource: { 'service.name': 'clef-agent', 'clef.source.type': 'http' },
        eventName: 'fetch.failed',
        severityNumber: 13,
        severityText: 'WARN',
        body: 'fetch failed',
        attributes: { 'http.response.status_code': 404, 'clef.trigger': 'poll' },
      },
      {
        resource: { 'service.name': 'clef-agent', 'clef.source.type': 'http' },
        eventName: 'agent.started',
        severityNumber: 9,
        severityText: 'INFO',
        body: 'started',
        attributes: { 'clef.signed': false },
      },
    ]);
    assert.deepEqual(byRequest[1], byRequest[0]);
    assert.deepEqual(byRequest[2], byRequest[0]);
  });
});
