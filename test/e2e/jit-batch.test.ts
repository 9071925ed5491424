/**
 * JIT dispatch against the real agent process (src/serving/jit-batch.ts): many clients on
 * keep-alive connections, each sending its next request as soon as the last was answered, so
 * requests arrive together. Every answer is exactly the one its request asks for (200 bodies,
 * text/plain, 404 and 409 side by side in the same batches), and the operations listener's task
 * counter shows fewer worker tasks than requests, `serveBatch` tasks among them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SPARE_BODY_MIN_BYTES } from '../../common/limits.js';
import { KeepAliveConnection, type RawResponse } from '../kit/index.js';
import { type FileAgent, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';
import { opsPort, scrape, value, type Scrape } from '../helpers/ops.js';

const PAYLOAD = { app: { API_KEY: 'k-1', DB: 'postgres://u:p@db/app' }, web: { API_KEY: 'k-2', NAME: 'é"\\ ü' } };
const CLIENTS = 24;
const EACH = 15;

interface Case {
  readonly path: string;
  readonly accept?: string;
  /** What the answer must be, checked exactly. */
  check(r: RawResponse): void;
}

function json(r: RawResponse, status: number): unknown {
  assert.equal(r.status, status, r.body);
  return JSON.parse(r.body) as unknown;
}

const CASES: readonly Case[] = [
  {
    path: '/v1/secrets',
    check: (r) => {
      assert.deepEqual(json(r, 200), PAYLOAD);
      assert.equal(r.body, JSON.stringify(PAYLOAD));
    },
  },
  { path: '/v1/keys', check: (r) => assert.deepEqual(json(r, 200), ['app__API_KEY', 'app__DB', 'web__API_KEY', 'web__NAME']) },
  { path: '/v1/secrets/app__DB', check: (r) => assert.deepEqual(json(r, 200), { key: 'app__DB', value: 'postgres://u:p@db/app' }) },
  {
    path: '/v1/secrets/web%2FNAME',
    accept: 'text/plain',
    check: (r) => {
      assert.equal(r.status, 200);
      assert.match(r.headers['content-type'] ?? '', /^text\/plain/);
      assert.equal(r.body, 'é"\\ ü');
    },
  },
  { path: '/v1/secrets/NOPE', check: (r) => assert.equal((json(r, 404) as { reason: string }).reason, 'not_found') },
  {
    path: '/v1/secrets/API_KEY',
    check: (r) => {
      const b = json(r, 409) as { reason: string; candidates: string[] };
      assert.equal(b.reason, 'ambiguous_key');
      assert.deepEqual([...b.candidates].sort(), ['app__API_KEY', 'web__API_KEY']);
    },
  },
];

function tasks(s: Scrape, kind: 'serve' | 'serveBatch'): number {
  return value(s, 'clef_agent_pool_task_duration_seconds', { kind });
}

describe('JIT dispatch: requests that arrive together share worker tasks (agent process, WORKERS=1)', { timeout: 120_000 }, () => {
  let fa: FileAgent | undefined;
  let ops = 0;

  before(async () => {
    fa = await startFileAgent({ payload: PAYLOAD, env: { CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_OPS_ADDR: '127.0.0.1:0' }, waitReady: false });
    await fa.agent.ready(60_000);
    ops = await opsPort(fa.agent);
  });
  after(() => fa?.close());

  it(`${CLIENTS} keep-alive clients × ${EACH} requests: every answer exactly right, and fewer pool tasks than requests`, async (t) => {
    const port = (fa as FileAgent).agent.port;
    const before = await scrape(ops);
    const connections = await Promise.all(Array.from({ length: CLIENTS }, () => KeepAliveConnection.open(port)));
    try {
      await Promise.all(
        connections.map(async (c, i) => {
          for (let j = 0; j < EACH; j++) {
            // Each client starts elsewhere in the list, so a batch mixes routes and outcomes.
            const k = CASES[(i + j) % CASES.length] as Case;
            const headers: Record<string, string> = { Host: `127.0.0.1:${port}`, Authorization: `Bearer ${TOKEN}` };
            if (k.accept !== undefined) headers['Accept'] = k.accept;
            const r = await c.request(k.path, headers, 30_000);
            k.check(r);
            assert.equal(r.headers['cache-control'], 'no-store');
          }
        }),
      );
    } finally {
      await Promise.all(connections.map((c) => c.close()));
    }
    const later = await scrape(ops);
    const requests = CLIENTS * EACH;
    const serves = tasks(later, 'serve') - tasks(before, 'serve');
    const batches = tasks(later, 'serveBatch') - tasks(before, 'serveBatch');
    t.diagnostic(`${requests} requests ran as ${serves} serve + ${batches} serveBatch tasks`);
    assert.ok(batches >= 1, 'some requests arrived together and shared a task');
    assert.ok(serves + batches < requests, `fewer worker tasks (${serves + batches}) than requests (${requests})`);
    assert.equal(value(later, 'clef_agent_pool_queue_depth'), 0);
  });
});

/**
 * Bodies above SPARE_BODY_MIN_BYTES go back to the worker after they are written and the next
 * plaintext is decrypted into them (src/serving/spare-bodies.ts, workers/spares.ts). Under
 * concurrent clients a buffer handed out twice, or reused before its response was written, would
 * show as a wrong or mixed body: every answer here is compared byte for byte.
 */
describe('JIT bodies that go back to the worker for reuse stay exact under concurrent clients (agent process)', { timeout: 120_000 }, () => {
  const large: Record<string, Record<string, string>> = { app: {}, web: {} };
  for (let i = 0; i < 200; i++) {
    (large['app'] as Record<string, string>)[`KEY_${i}`] = `app-${i}-${'a'.repeat(40)}`;
    (large['web'] as Record<string, string>)[`KEY_${i}`] = `web-${i}-${'w'.repeat(40)}`;
  }
  const text = JSON.stringify(large);
  const keys = Object.entries(large)
    .flatMap(([ns, kv]) => Object.keys(kv).map((k) => `${ns}__${k}`))
    .sort();
  let fa: FileAgent | undefined;

  before(async () => {
    assert.ok(Buffer.byteLength(text) > SPARE_BODY_MIN_BYTES);
    fa = await startFileAgent({ payload: large, env: { CLEF_AGENT_CACHE_TTL: '0' }, waitReady: false });
    await fa.agent.ready(60_000);
  });
  after(() => fa?.close());

  it(`${CLIENTS} keep-alive clients × ${EACH} requests of ~${Math.round(Buffer.byteLength(text) / 1024)} KB bodies, mixed routes: every body exact`, async () => {
    const port = (fa as FileAgent).agent.port;
    const headers = { Host: `127.0.0.1:${port}`, Authorization: `Bearer ${TOKEN}` };
    const connections = await Promise.all(Array.from({ length: CLIENTS }, () => KeepAliveConnection.open(port)));
    try {
      await Promise.all(
        connections.map(async (c, i) => {
          for (let j = 0; j < EACH; j++) {
            const pick = (i + j) % 4;
            if (pick === 3) {
              const n = (i * EACH + j) % 200;
              const r = await c.request(`/v1/secrets/web__KEY_${n}`, headers, 30_000);
              assert.equal(r.status, 200, r.body);
              assert.deepEqual(JSON.parse(r.body), { key: `web__KEY_${n}`, value: `web-${n}-${'w'.repeat(40)}` });
            } else if (pick === 2) {
              const r = await c.request('/v1/keys', headers, 30_000);
              assert.equal(r.status, 200);
              assert.deepEqual(JSON.parse(r.body), keys);
            } else {
              const r = await c.request('/v1/secrets', headers, 30_000);
              assert.equal(r.status, 200);
              assert.equal(r.body, text);
            }
          }
        }),
      );
    } finally {
      await Promise.all(connections.map((c) => c.close()));
    }
  });
});
