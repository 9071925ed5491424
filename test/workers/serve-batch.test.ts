/**
 * The JIT `serveBatch` task (workers/serve-batch.ts): one decryption per request, never a shared
 * plaintext; each request's answer is the one a lone `serve` gives, failures included; and every
 * body leaves the worker as its own ArrayBuffer, moved rather than copied.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { Piscina } from 'piscina';
import type { EncryptedArtifact, ServeBatchResult, ServeRequest, ServeResult, WorkerInit } from '../../common/protocol.js';
import { AgeFastDecrypter } from '../../workers/decrypt/age-fast.js';
import { runTask, transfers } from '../../workers/index.js';
import { dropKeyCache } from '../../workers/keys.js';
import { ageKeygen, ageLibEncrypt, inlineKey, POOL_TASK_FILE, sha256Hex, type AgeKeyPair } from './helpers.js';

const PAYLOAD = { app: { A: '1', B: 'two' }, db: { A: 'dup' } };
const REQUESTS: ServeRequest[] = [
  { route: 'secrets' },
  { route: 'keys' },
  { route: 'secret', name: 'app__B', plain: false },
  { route: 'secret', name: 'db/A', plain: true },
  { route: 'secret', name: 'NOPE', plain: false },
  { route: 'secret', name: 'A', plain: false },
  { route: 'secrets' },
];

let pair: AgeKeyPair;
let init: WorkerInit;
let artifact: EncryptedArtifact;

async function seal(plaintext: string): Promise<EncryptedArtifact> {
  const file = await ageLibEncrypt(plaintext, pair.recipient);
  return { ciphertextHash: sha256Hex(file), ageFile: new Uint8Array(file) };
}

before(async () => {
  pair = ageKeygen();
  init = inlineKey(pair.identity);
  artifact = await seal(JSON.stringify(PAYLOAD));
});
beforeEach(() => dropKeyCache());

/** What a client would see of one answer. */
function shown(r: ServeResult): string {
  if (!r.ok) return `${r.code}`;
  if (r.status === 404) return '404';
  if (r.status === 409) return `409 ${r.candidates.join(',')}`;
  return `${r.contentType} ${Buffer.from(r.body).toString('utf8')}`;
}

async function batch(a: EncryptedArtifact, requests: readonly ServeRequest[]): Promise<readonly ServeResult[]> {
  const r = (await runTask({ type: 'serveBatch', artifact: a, requests }, init)) as ServeBatchResult;
  assert.ok(r.ok, JSON.stringify(r));
  assert.equal(r.results.length, requests.length);
  return r.results;
}

/** Every plaintext the age decrypter hands out while `fn` runs (a spy on the real decrypter). */
async function decryptions<T>(fn: () => Promise<T>): Promise<{ value: T; plaintexts: Buffer[] }> {
  const proto = AgeFastDecrypter.prototype;
  type Decrypt = AgeFastDecrypter['decrypt'];
  const real = Object.getOwnPropertyDescriptor(proto, 'decrypt')?.value as Decrypt;
  const plaintexts: Buffer[] = [];
  proto.decrypt = async function (this: AgeFastDecrypter, ...args: Parameters<Decrypt>): Promise<Buffer> {
    const p = await real.apply(this, args);
    plaintexts.push(p);
    return p;
  };
  try {
    return { value: await fn(), plaintexts };
  } finally {
    proto.decrypt = real;
  }
}

describe('serveBatch (in-process)', () => {
  test('each request is answered exactly as a lone serve task answers it, 404 and 409 included, in order', async () => {
    const alone: string[] = [];
    for (const request of REQUESTS) alone.push(shown((await runTask({ type: 'serve', artifact, request }, init)) as ServeResult));
    const together = (await batch(artifact, REQUESTS)).map(shown);
    assert.deepEqual(together, alone);
    assert.deepEqual(together.slice(2, 6), ['application/json {"key":"app__B","value":"two"}', 'text/plain dup', '404', '409 app__A,db__A']);
  });

  test('one decryption per request; every plaintext that is not itself a body is wiped; no two bodies share a buffer', async () => {
    // Twice: the second batch takes the proven-canonical path, where a `/v1/secrets` body is the
    // plaintext itself — still one per request.
    for (const round of [1, 2]) {
      const { value: results, plaintexts } = await decryptions(() => batch(artifact, REQUESTS));
      assert.equal(plaintexts.length, REQUESTS.length, `round ${round}: one decryption per request`);
      assert.equal(new Set(plaintexts).size, plaintexts.length, 'each its own plaintext');
      const bodies = results.flatMap((r) => (r.ok && r.status === 200 ? [r.body] : []));
      const buffers = bodies.map((b) => b.buffer);
      assert.equal(new Set(buffers).size, buffers.length, 'each body owns its buffer');
      for (const b of bodies) assert.deepEqual([b.byteOffset, b.byteLength], [0, b.buffer.byteLength], 'the whole buffer, so moving it moves nothing else');
      const asBody = new Set<ArrayBufferLike>(buffers);
      const wiped = plaintexts.filter((p) => !asBody.has(p.buffer));
      assert.ok(
        wiped.every((p) => p.every((x) => x === 0)),
        `round ${round}: plaintexts wiped`,
      );
      if (round === 2) assert.ok(wiped.length < plaintexts.length, 'the canonical path returned plaintexts as bodies');
    }
  });

  test('a failure is per request: an undecryptable artifact fails every request with its own failure, a throwing request only itself', async () => {
    const other = ageKeygen();
    const foreign = await ageLibEncrypt('{"x":{"y":"z"}}', other.recipient);
    const r = await batch({ ciphertextHash: sha256Hex(foreign), ageFile: new Uint8Array(foreign) }, [{ route: 'keys' }, { route: 'secrets' }]);
    assert.deepEqual(
      r.map((x) => (x.ok ? 'ok' : x.code)),
      ['decrypt_failed', 'decrypt_failed'],
    );
    // A request no route accepts (a name that is not a string) throws inside `serve`.
    const odd = { route: 'secret', name: 42, plain: false } as unknown as ServeRequest;
    const mixed = await batch(artifact, [{ route: 'keys' }, odd, { route: 'secret', name: 'app__A', plain: true }]);
    assert.deepEqual(mixed.map(shown), ['application/json ["app__A","app__B","db__A"]', 'internal', 'text/plain 1']);
  });

  test('what the handler moves: every body of a batch, one transfer item each, the body’s own buffer', async () => {
    const task = { type: 'serveBatch', artifact, requests: REQUESTS } as const;
    const r = (await runTask(task, init)) as ServeBatchResult;
    assert.ok(r.ok);
    const bodies = r.results.flatMap((x) => (x.ok && x.status === 200 ? [x.body.buffer] : []));
    assert.equal(bodies.length, 5);
    const moved = transfers(task, r);
    assert.equal(moved.length, bodies.length);
    assert.ok(moved.every((b, i) => b === bodies[i]));
    assert.deepEqual(transfers(task, { ok: false, code: 'internal', message: 'x' }), []);
  });
});

describe('serveBatch through a real piscina pool', () => {
  let pool: Piscina;
  before(() => {
    pool = new Piscina({ filename: POOL_TASK_FILE, workerData: init, minThreads: 1, maxThreads: 1 });
  });
  after(() => pool.destroy());

  test('all bodies arrive on the main thread, each as its own whole ArrayBuffer, and can be wiped one by one', async () => {
    const r = (await pool.run({ type: 'serveBatch', artifact, requests: REQUESTS })) as ServeBatchResult;
    assert.ok(r.ok);
    const alone: string[] = [];
    for (const request of REQUESTS) alone.push(shown((await pool.run({ type: 'serve', artifact, request })) as ServeResult));
    assert.deepEqual(r.results.map(shown), alone);
    const bodies = r.results.flatMap((x) => (x.ok && x.status === 200 ? [x.body] : []));
    assert.equal(new Set(bodies.map((b) => b.buffer)).size, bodies.length);
    for (const b of bodies) assert.equal(b.buffer.byteLength, b.byteLength);
    const [first, second] = bodies;
    assert.ok(first !== undefined && second !== undefined);
    const before = Buffer.from(second).toString('utf8');
    first.fill(0);
    assert.equal(Buffer.from(second).toString('utf8'), before, 'wiping one body leaves the others whole');
  });
});
