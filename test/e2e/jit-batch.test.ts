/**
 * JIT dispatch against the real agent process (src/serving/jit-batch.ts): many clients on
 * keep-alive connections, each sending its next request as soon as the last was answered, so
 * requests arrive together. Every answer is exactly the one its request asks for (200 bodies,
 * text/plain, 404 and 409 side by side in the same batches), and the operations listener's task
 * counter shows fewer worker tasks than requests, `serveBatch` tasks among them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
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
