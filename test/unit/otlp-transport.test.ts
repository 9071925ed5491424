/**
 * SPEC §7 retry rule, on the transport under the OTLP exporters (src/telemetry/otlp-transport.ts),
 * against the local collector: 429/502/503/504 are retried (Retry-After honoured, within the
 * export timeout), nothing else is — not 400, not 500, not a dropped connection, not a time-out.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtlpCollector } from '../../emulators/otlp-collector.js';
import { otlpHttpTransport, retryAfter } from '../../src/telemetry/otlp-transport.js';

async function collector(t: { after(fn: () => unknown): void }): Promise<OtlpCollector> {
  const c = await new OtlpCollector().start();
  t.after(() => c.close());
  return c;
}

function transport(c: OtlpCollector, headers: () => Record<string, string> = () => ({}), compression: 'gzip' | 'none' = 'none') {
  return otlpHttpTransport({ url: `${c.endpoint}/v1/metrics`, contentType: 'application/json', headers, compression });
}

const BODY = new Uint8Array(Buffer.from('{"resourceMetrics":[]}'));

describe('§7 OTLP transport retries', () => {
  for (const status of [429, 502, 503, 504]) {
    it(`§7: ${status} with Retry-After is retried, then succeeds`, async (t) => {
      const c = await collector(t);
      c.behaviour = { kind: 'status', status, retryAfter: '0', times: 2 };
      const tr = transport(c);
      t.after(() => tr.shutdown());
      const r = await tr.send(BODY, 10_000);
      assert.equal(r.status, 'success');
      assert.deepEqual(
        c.requests.map((q) => q.status),
        [status, status, 200],
      );
      assert.deepEqual(c.requests[2]?.body, Buffer.from(BODY), 'the same bytes each time');
    });
  }

  for (const status of [400, 401, 404, 413, 500, 501]) {
    it(`§7: ${status} is not retried`, async (t) => {
      const c = await collector(t);
      c.behaviour = { kind: 'status', status, retryAfter: '0', times: 5 };
      const tr = transport(c);
      t.after(() => tr.shutdown());
      const r = await tr.send(BODY, 10_000);
      assert.equal(r.status, 'failure');
      assert.equal(c.requests.length, 1);
      assert.match(r.status === 'failure' ? r.error.message : '', new RegExp(`answered ${status}$`));
    });
  }

  it('§7: a dropped connection and a time-out are not retried', async (t) => {
    const c = await collector(t);
    c.behaviour = { kind: 'reset' };
    const tr = transport(c);
    t.after(() => tr.shutdown());
    const reset = await tr.send(BODY, 10_000);
    assert.equal(reset.status, 'failure');
    assert.equal(c.requests.length, 1);

    c.behaviour = { kind: 'hang' };
    const hung = await tr.send(BODY, 300);
    assert.equal(hung.status, 'failure');
    assert.match(hung.status === 'failure' ? hung.error.message : '', /no answer within the export timeout/);
    assert.equal(c.requests.length, 2);
  });

  it('a kept-alive connection the collector closed while idle (e.g. across a Lambda freeze) is replaced once, not failed', async (t) => {
    const c = await collector(t);
    const tr = transport(c);
    t.after(() => tr.shutdown());
    assert.equal((await tr.send(BODY, 10_000)).status, 'success');
    // The collector closes the idle connection; the client has not seen it yet (same tick), so the
    // next export writes to that socket and fails before reaching the collector.
    c.dropAll();
    const r = await tr.send(BODY, 10_000);
    assert.equal(r.status, 'success', r.status === 'failure' ? r.error.message : '');
    assert.equal(c.requests.length, 2, 'the collector saw each export once');
    // A collector that drops every request is still not retried (a fresh connection each time).
    c.behaviour = { kind: 'reset' };
    c.dropAll();
    await new Promise((resolve) => setTimeout(resolve, 50)); // the client sees the close: no stale socket left
    assert.equal((await tr.send(BODY, 10_000)).status, 'failure');
    assert.equal(c.requests.length, 3);
  });

  it('§7: a Retry-After beyond the export timeout ends the export instead of waiting', async (t) => {
    const c = await collector(t);
    c.behaviour = { kind: 'status', status: 503, retryAfter: '3600', times: 1 };
    const tr = transport(c);
    t.after(() => tr.shutdown());
    const r = await tr.send(BODY, 5_000);
    assert.equal(r.status, 'failure');
    assert.match(r.status === 'failure' ? r.error.message : '', /outlasts the export timeout/);
    assert.equal(c.requests.length, 1);
  });

  it('§7: a collector that keeps answering 503 gets at most five attempts', async (t) => {
    const c = await collector(t);
    c.behaviour = { kind: 'status', status: 503, retryAfter: '0', times: 100 };
    const tr = transport(c);
    t.after(() => tr.shutdown());
    assert.equal((await tr.send(BODY, 10_000)).status, 'failure');
    assert.equal(c.requests.length, 5);
  });

  it('headers are read per export, gzip is applied, and no answer text reaches the error', async (t) => {
    const c = await collector(t);
    let token = 'first';
    const tr = transport(c, () => ({ authorization: `Bearer ${token}` }), 'gzip');
    t.after(() => tr.shutdown());
    assert.equal((await tr.send(BODY, 10_000)).status, 'success');
    token = 'second';
    c.behaviour = { kind: 'status', status: 400, times: 1 };
    const r = await tr.send(BODY, 10_000);
    assert.deepEqual(
      c.requests.map((q) => q.headers['authorization']),
      ['Bearer first', 'Bearer second'],
    );
    assert.equal(c.requests[0]?.headers['content-encoding'], 'gzip');
    assert.deepEqual(c.requests[0]?.body, Buffer.from(BODY));
    assert.doesNotMatch(r.status === 'failure' ? r.error.message : '', /emulated failure/);
  });

  it('Retry-After: delay-seconds and HTTP dates; anything else is ignored', () => {
    const at = Date.parse('2026-12-05T12:00:00Z');
    assert.equal(retryAfter({ headers: { 'retry-after': '3' } }, at), 3000);
    assert.equal(retryAfter({ headers: { 'retry-after': 'Sat, 05 Dec 2026 12:00:10 GMT' } }, at), 10_000);
    assert.equal(retryAfter({ headers: { 'retry-after': 'Sat, 05 Dec 2026 11:00:00 GMT' } }, at), 0);
    assert.equal(retryAfter({ headers: { 'retry-after': 'soon' } }, at), undefined);
    assert.equal(retryAfter({ headers: {} }, at), undefined);
  });
});
