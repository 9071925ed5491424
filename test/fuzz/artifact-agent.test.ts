/**
 * Artifact fuzz against a real agent (SPEC §4.3): a cached-mode agent polling a file artifact
 * (signed, verify key set) every 5 s serves the good one; mutants from the artifact fuzz suite's
 * generator are swapped in one per poll. After each, the agent logs the rejection with the code
 * the worker's load task gives the same bytes in-process, `/v1/health` names it, and
 * `/v1/secrets` still answers the good values. Mutants that load, revoke or expire (which drop
 * the snapshot by design) are left to the in-process suite. A poll comes every 5 s, so the
 * default time box covers one swap; CLEF_AGENT_FUZZ_SECONDS runs more.
 */
import assert from 'node:assert/strict';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import type { LoadResult, LoadTask } from '../../common/protocol.js';
import { runTask } from '../../workers/index.js';
import { samplePayload, signingKey, type SigningKey } from '../helpers/artifacts.js';
import { startFileAgent, type FileAgent } from '../helpers/http-fixtures.js';
import { budget } from './budget.js';
import { mutantArb, type Mutant } from './artifact-gen.js';

const payload = samplePayload('E2EFUZZ');
let key: SigningKey;
let fa: FileAgent;
let base: Record<string, unknown>;

/** What the worker's load task makes of `bytes` in-process, on the agent's own settings. */
async function inProcess(bytes: Buffer): Promise<LoadResult> {
  const path = `${fa.artifactPath}.probe`;
  writeFileSync(path, bytes);
  const task: LoadTask = {
    type: 'load',
    mode: 'cached',
    source: { kind: 'file', path },
    fetch: { timeoutMs: 5_000, maxBytes: 4 << 20, retries: 0, allowHttp: false },
    validation: { nowMs: Date.now(), verifyKey: key.verifyKey, servingPackedAt: String(base['packedAt']) },
  };
  return (await runTask(task, { ageKey: { kind: 'inline', bytes: Buffer.from(fa.key.identity, 'utf8') } })) as LoadResult;
}

/** Replaces the artifact atomically, so a poll never reads half a file. */
function swapIn(bytes: Buffer): void {
  const tmp = `${fa.artifactPath}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, fa.artifactPath);
}

describe('artifact fuzz against a real agent', { timeout: 900_000 }, () => {
  before(async () => {
    key = signingKey('ed25519');
    fa = await startFileAgent({
      payload,
      artifact: { sign: key, revision: 'rev-good', packedAt: new Date(Date.now() - 60_000).toISOString() },
      env: { CLEF_AGENT_VERIFY_KEY: key.verifyKey, CLEF_AGENT_CACHE_TTL: '30', CLEF_AGENT_POLL_INTERVAL: '5' },
    });
    base = JSON.parse(readFileSync(fa.artifactPath, 'utf8')) as Record<string, unknown>;
  });
  after(() => fa?.close());

  it('§4.3: a rejected artifact never replaces the good snapshot; health names its reason code', async () => {
    const b = budget('artifact e2e', 5, 1);
    const deadline = Date.now() + b.seconds * 1000;
    const good = readFileSync(fa.artifactPath);
    const candidates = fc.sample(mutantArb(base, key, { kms: false }), { seed: b.seed, numRuns: 500 });
    let swaps = 0;
    for (const m of candidates) {
      if (swaps >= b.numRuns || (swaps > 0 && Date.now() > deadline)) break;
      if (m.bytes.equals(good)) continue;
      const expected = await inProcess(m.bytes);
      if (expected.ok || expected.code === 'expired') continue;
      swaps++;
      await rejectedLikeInProcess(m, expected.code);
    }
    assert.ok(swaps > 0, 'no rejected mutant was tried');
    console.log(`${b.summary(swaps)}`);
  });
});

async function rejectedLikeInProcess(m: Mutant, code: string): Promise<void> {
  const what = `mutant [${m.ops.join('; ')}] (expected ${code})`;
  const from = fa.agent.logs().length;
  swapIn(m.bytes);
  await fa.agent
    .logAfter(from, (l) => (l.event === 'artifact.invalid' || l.event === 'fetch.failed') && l['code'] === code, 20_000)
    .catch((err: Error) => {
      throw new Error(`${what}: ${err.message}`);
    });
  const s = await fa.agent.request('/v1/secrets');
  assert.equal(s.status, 200, `${what}: ${s.body}`);
  assert.deepEqual(s.json(), payload, what);
  const h = (await fa.agent.request('/v1/health')).json<{ revision: string; lastError: { code: string } | null }>();
  assert.equal(h.lastError?.code, code, what);
  assert.equal(h.revision, 'rev-good', what);
}
