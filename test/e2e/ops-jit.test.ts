/**
 * SPEC §8 under load: with JIT saturated (one worker, a queue of 4, every request decrypting ~1 MB),
 * the operations listener's probes and scrape keep answering 200, and the scrape shows the pool at
 * work — queue-full rejections counted, serve tasks timed, the request counter's 503s. Behavioural:
 * no latency thresholds.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { request } from '../kit/index.js';
import { type FileAgent, startFileAgent, TOKEN } from '../helpers/http-fixtures.js';
import { largePayload, outcome, type Outcome, tally } from '../helpers/jit-agent.js';
import { opsPort, scrape, value } from '../helpers/ops.js';

const PAYLOAD = largePayload(1000, 1024, 'OPSJIT');
const FLOOD = 200;

describe('§8 probes and scrape while JIT is saturated (WORKERS=1, MAX_QUEUE=4)', { timeout: 180_000 }, () => {
  let fa: FileAgent;
  let ops: number;
  before(async () => {
    fa = await startFileAgent({
      payload: PAYLOAD,
      env: { CLEF_AGENT_CACHE_TTL: '0', CLEF_AGENT_WORKERS: '1', CLEF_AGENT_MAX_QUEUE: '4', CLEF_AGENT_OPS_ADDR: '127.0.0.1:0' },
      waitReady: false,
    });
    await fa.agent.ready(60_000);
    ops = await opsPort(fa.agent);
  });
  after(() => fa?.close());

  it('§8 health, ready and /metrics on the ops port answer 200 throughout a flood that overloads the pool; the scrape shows the rejections', async (t) => {
    const before = await scrape(ops);
    let done = false;
    const probes: Outcome[] = [];
    let scrapes = 0;
    const prober = (async () => {
      while (!done) {
        for (const path of ['/v1/health', '/v1/ready', '/metrics']) {
          probes.push(await outcome(request(ops, path, { timeoutMs: 60_000 })));
          if (path === '/metrics') scrapes++;
        }
      }
    })();
    const flood = await Promise.all(Array.from({ length: FLOOD }, () => outcome(request(fa.agent.port, '/v1/secrets', { token: TOKEN, timeoutMs: 60_000 }))));
    done = true;
    await prober;
    const counts = tally(flood);
    t.diagnostic(`flood: ${JSON.stringify(counts)}; ops probes: ${JSON.stringify(tally(probes))}`);
    assert.ok((counts['503 overloaded'] ?? 0) > 0, 'the flood overloaded the pool');
    assert.ok(scrapes >= 1, 'scraped during the flood');
    assert.deepEqual(tally(probes), { '200': probes.length }, 'every probe and scrape during the flood got 200');

    const later = await scrape(ops);
    const rejected =
      value(later, 'clef_agent_overload_rejections_total', { reason: 'queue_full' }) -
      value(before, 'clef_agent_overload_rejections_total', { reason: 'queue_full' });
    assert.equal(rejected, counts['503 overloaded'], 'one queue-full rejection per 503 overloaded');
    assert.equal(
      value(later, 'clef_agent_http_requests_total', { listener: 'api', route: 'secrets', status: '503' }) -
        value(before, 'clef_agent_http_requests_total', { listener: 'api', route: 'secrets', status: '503' }),
      counts['503 overloaded'],
    );
    // Requests that arrive together share a task (serveBatch), so tasks are at most the answered requests.
    const tasks = (['serve', 'serveBatch'] as const).reduce(
      (n, kind) => n + value(later, 'clef_agent_pool_task_duration_seconds', { kind }) - value(before, 'clef_agent_pool_task_duration_seconds', { kind }),
      0,
    );
    assert.ok(tasks >= 1 && tasks <= (counts['200'] ?? 0), `${tasks} timed serve/serveBatch tasks for ${counts['200'] ?? 0} answered requests`);
    // The flood is over: nothing queued or running.
    assert.equal(value(later, 'clef_agent_pool_queue_depth'), 0);
    assert.equal(value(later, 'clef_agent_pool_busy_workers'), 0);
    assert.equal(value(later, 'clef_agent_artifact_info', { mode: 'jit' }), 1);
  });
});
