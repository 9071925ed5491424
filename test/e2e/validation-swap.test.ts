/**
 * SPEC §4.3 step 9: the new snapshot is swapped in atomically — a request is answered entirely
 * from one snapshot. Clients hammer the secrets routes (bounded) while the served artifact changes
 * from revision A to B; every answer must be entirely A or entirely B.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request, sleep } from '../kit/index.js';
import { refreshed, startPolled } from '../helpers/scenario.js';

const KEYS = 40;

/** Many keys, each value tagged with the revision, plus a key only this revision has. */
function payload(tag: 'A' | 'B'): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const ns of ['app', 'payments', 'billing']) {
    const keys: Record<string, string> = {};
    for (let i = 0; i < KEYS; i++) keys[`K${i}`] = `${tag}-${ns}-${i}-${'v'.repeat(i * 7)}`;
    keys[`ONLY_${tag}`] = `${tag}-only`;
    out[ns] = keys;
  }
  return out;
}

const A = payload('A');
const B = payload('B');

/** Which revision a whole /v1/secrets body is, or throws if it mixes them. */
function revisionOf(body: string): 'A' | 'B' {
  if (body === JSON.stringify(A)) return 'A';
  if (body === JSON.stringify(B)) return 'B';
  throw new Error(`a /v1/secrets answer is neither entirely A nor entirely B: ${body.slice(0, 200)}…`);
}

function keysRevision(body: string): 'A' | 'B' {
  const keys = JSON.parse(body) as string[];
  const a = keys.some((k) => k.endsWith('ONLY_A'));
  const b = keys.some((k) => k.endsWith('ONLY_B'));
  assert.ok(a !== b, `a /v1/keys answer mixes A and B: ${body.slice(0, 200)}`);
  assert.equal(keys.length, 3 * (KEYS + 1));
  return a ? 'A' : 'B';
}

describe('§4.3 step 9: atomic swap', () => {
  it(
    '§4.3 step 9: while the artifact changes from A to B, every /v1/secrets and /v1/keys answer is entirely A or entirely B',
    { timeout: 60_000 },
    async (t) => {
      const p = await startPolled({ payload: A, first: { revision: 'rev-A' } });
      t.after(() => p.close());
      const seen = { A: 0, B: 0, keysA: 0, keysB: 0, single: 0 };
      let swappedAt: number | undefined;
      let stop = false;
      const hardStop = Date.now() + 40_000;

      const client = async (): Promise<void> => {
        let n = 0;
        while (!stop && Date.now() < hardStop && (swappedAt === undefined || Date.now() < swappedAt + 3_000)) {
          n++;
          if (n % 5 === 0) {
            const r = await request(p.agent.port, '/v1/keys', { token: p.agent.token });
            assert.equal(r.status, 200);
            seen[`keys${keysRevision(r.body)}`]++;
          } else if (n % 7 === 0) {
            const r = await request(p.agent.port, '/v1/secrets/billing/K39', { token: p.agent.token });
            assert.equal(r.status, 200);
            const v = r.json<{ value: string }>().value;
            assert.ok(v === A['billing']?.['K39'] || v === B['billing']?.['K39'], 'a single value is one revision');
            seen.single++;
          } else {
            const r = await request(p.agent.port, '/v1/secrets', { token: p.agent.token });
            assert.equal(r.status, 200, r.body);
            seen[revisionOf(r.body)]++;
          }
        }
      };

      const clients = Array.from({ length: 4 }, () => client());
      try {
        await sleep(500);
        const from = p.mark();
        p.server.body = await p.artifact({ payload: B, revision: 'rev-B' });
        await p.logAfter(from, refreshed('rev-B'));
        swappedAt = Date.now();
        await Promise.all(clients);
      } finally {
        stop = true;
        await Promise.allSettled(clients);
      }
      t.diagnostic(`answers seen: ${JSON.stringify(seen)}`);
      assert.ok(seen.A > 0 && seen.B > 0, `both revisions were observed: ${JSON.stringify(seen)}`);
      assert.ok(seen.keysA > 0 && seen.keysB > 0, `both key lists were observed: ${JSON.stringify(seen)}`);
      // After the swap log line, only B is served.
      assert.equal(revisionOf((await p.get('/v1/secrets')).body), 'B');
    },
  );
});
