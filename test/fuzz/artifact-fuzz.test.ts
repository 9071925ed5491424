/**
 * Artifact fuzz (SPEC §2, §4.3): mutated and generated artifacts through the worker's real load
 * task, in-process (`runTask` on a file source, as the pool runs it), with a verify key: age
 * (binary and armored) and KMS envelope artifacts (KMS emulator through the real SDK), and
 * generated payloads. Asserted for every case: nothing throws or ends `internal`; a rejection's
 * code is in the failure table and names an API reason; no message carries a secret; a revocation
 * is recognised whenever the bytes are an object with `revokedAt`; and anything that loads is
 * exactly the good payload, with the good signed fields unless the test itself re-signed it.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { FAILURES } from '../../common/failures.js';
import { isPlainObject, parseJsonBytes } from '../../common/json.js';
import type { LoadResult, LoadTask } from '../../common/protocol.js';
import { REASONS } from '../../common/reasons.js';
import { runTask } from '../../workers/index.js';
import { KmsServer } from '../../emulators/kms-server.js';
import { ageKeyPair, buildArtifact, samplePayload, signingKey, type AgeKeyPair, type SigningKey } from '../helpers/artifacts.js';
import { kmsArtifact } from '../helpers/kms-artifacts.js';
import { suiteTempDirs } from '../kit/index.js';
import { budget } from './budget.js';
import { mutantArb, type Mutant } from './artifact-gen.js';
import { payloadArb, payloadVerdict } from './payload-gen.js';
import { spanText } from '../workers/helpers.js';

const dir = suiteTempDirs('clef-fuzz-artifacts-').make();
const tag = 'FUZZSECRET';
const payload = samplePayload(tag);
let seq = 0;
let age: AgeKeyPair;
let key: SigningKey;
let kms: KmsServer;
const bases: Record<string, Record<string, unknown>> = {};
/** Failure categories a load of a readable file may end in. */
const CATEGORIES = new Set(['validation', 'decrypt', 'kms']);

async function load(bytes: Uint8Array, extra: Partial<LoadTask['validation']> = {}): Promise<LoadResult> {
  const path = join(dir, `a${seq++ % 64}.json`);
  writeFileSync(path, bytes);
  const task: LoadTask = {
    type: 'load',
    mode: seq % 2 === 0 ? 'cached' : 'jit',
    source: { kind: 'file', path },
    fetch: { timeoutMs: 5_000, maxBytes: 4 << 20, retries: 0, allowHttp: false },
    validation: { nowMs: Date.now(), verifyKey: key.verifyKey, ...extra },
  };
  return (await runTask(task, { ageKey: { kind: 'inline', bytes: Buffer.from(age.identity, 'utf8') } })) as LoadResult;
}

/** The checks every result passes, whatever the input. */
function checkFailure(r: LoadResult): void {
  if (r.ok) return;
  assert.notEqual(r.code, 'internal', `an unexpected exception in the worker: ${r.message}`);
  const info = FAILURES[r.code];
  assert.ok(info, `code ${r.code} is not in common/failures.ts`);
  assert.ok(CATEGORIES.has(info.category) || r.code === 'too_large', `code ${r.code} (${info.category}) for a readable file`);
  assert.ok(REASONS[info.reason], `code ${r.code} names reason ${info.reason}, not in common/reasons.ts`);
  assert.ok(!r.message.includes(tag) && !r.message.includes(age.identity), `a secret in the message: ${r.message}`);
}

const SIGNED = ['identity', 'environment', 'revision', 'packedAt', 'ciphertextHash'] as const;

function checkMutant(m: Mutant, base: Record<string, unknown>, r: LoadResult): void {
  checkFailure(r);
  const parsed = parseJsonBytes(m.bytes);
  const revokes = parsed !== null && isPlainObject(parsed.value) && Object.hasOwn(parsed.value, 'revokedAt');
  if (revokes) {
    assert.ok(r.ok && r.outcome === 'revoked', `revokedAt present but the outcome is ${r.ok ? r.outcome : r.code}`);
    return;
  }
  if (!r.ok) return;
  assert.notEqual(r.outcome, 'revoked', 'revoked without revokedAt');
  assert.ok(r.outcome === 'loaded' || r.outcome === 'verified', `outcome ${r.outcome}`);
  if (r.outcome === 'loaded') assert.deepEqual(JSON.parse(spanText(r.snapshot.arena, r.snapshot.secrets)), payload, 'a mutant loaded other secrets');
  if (!m.resigned) for (const f of SIGNED) assert.equal(r.meta[f], base[f], `${f} changed without a new signature and still loaded`);
}

describe('artifact fuzz through the worker load task', { timeout: 600_000 }, () => {
  before(async () => {
    age = await ageKeyPair();
    key = signingKey('ed25519');
    kms = await new KmsServer().start();
    // The worker code's KMS client is made on first use in this process: point it at the emulator.
    Object.assign(process.env, kms.env());
    const packedAt = new Date(Date.now() - 60_000).toISOString();
    bases['age'] = await buildArtifact({ recipient: age.recipient, payload, sign: key, packedAt, revision: 'rev-good' });
    bases['armored'] = await buildArtifact({ recipient: age.recipient, payload, sign: key, packedAt, revision: 'rev-good', armor: true });
    bases['kms'] = await kmsArtifact(kms, { keyId: kms.createKey(), payload, sign: key, packedAt, revision: 'rev-good' });
    for (const [name, a] of Object.entries(bases)) {
      const r = await load(Buffer.from(JSON.stringify(a)));
      assert.ok(r.ok && r.outcome !== 'revoked' && r.outcome !== 'unchanged', `the ${name} base artifact must load: ${JSON.stringify(r)}`);
    }
  });
  after(() => kms.close());

  it('§4.3: mutated age and KMS artifacts are rejected with a known code, or load exactly the good payload', async () => {
    const b = budget('artifact mutants', 2, 1000);
    const outcomes = new Map<string, number>();
    let cases = 0;
    const arb = fc.oneof(...Object.entries(bases).map(([name, base]) => mutantArb(base, key, { kms: name === 'kms' }).map((m) => ({ name, m }))));
    await fc.assert(
      fc.asyncProperty(arb, fc.boolean(), async ({ name, m }, rollbackFloor) => {
        cases++;
        const base = bases[name] as Record<string, unknown>;
        // Half the time an artifact is being served: an older packedAt is then a rollback.
        const r = await load(m.bytes, rollbackFloor ? { servingPackedAt: String(base['packedAt']) } : {});
        const k = r.ok ? r.outcome : r.code;
        outcomes.set(k, (outcomes.get(k) ?? 0) + 1);
        checkMutant(m, base, r);
      }),
      b.fc(),
    );
    console.log(`${b.summary(cases)}; outcomes ${JSON.stringify(Object.fromEntries([...outcomes].sort()))}`);
  });

  it('§2.1: generated payloads load exactly when they are namespaces of strings or a flat object of strings', async () => {
    const b = budget('artifact payloads', 2, 100);
    let cases = 0;
    await fc.assert(
      fc.asyncProperty(payloadArb, async (p) => {
        cases++;
        const a = await buildArtifact({ recipient: age.recipient, payload: p.text, sign: key });
        const r = await load(Buffer.from(JSON.stringify(a)));
        checkFailure(r);
        const verdict = payloadVerdict(p);
        if (verdict === 'valid') {
          assert.ok(r.ok && (r.outcome === 'loaded' || r.outcome === 'verified'), `a valid payload was refused: ${r.ok ? r.outcome : r.message}`);
          // The served body is compact JSON of the payload; compared as text, not re-parsed (escaped names).
          if (r.outcome === 'loaded' && p.value !== undefined) assert.equal(spanText(r.snapshot.arena, r.snapshot.secrets), JSON.stringify(p.value));
        } else {
          assert.ok(!r.ok, `an invalid payload (${verdict}) loaded`);
          assert.equal(r.code, 'invalid_payload', r.message);
        }
      }),
      b.fc(),
    );
    console.log(b.summary(cases));
  });
});
