/**
 * A pool started from a guess (`WorkerPool.guessed`, src/cli/early-start.ts) takes the validated
 * options with `adopt`: the started workers are kept when the options start the same ones, replaced
 * when they do not (so the validated key, count and limits always apply), and the guess's own copy
 * of an inline key is wiped once no piscina can hand it to a new worker. Real workers, real keys.
 */
import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import type { WorkerInit } from '../../common/protocol.js';
import { WorkerPool, type PoolOptions } from '../../src/pool.js';
import { TempDirs } from '../kit/index.js';
import { ageKeygen } from '../workers/helpers.js';

const dirs = new TempDirs('clef-pool-adopt-');
after(() => dirs.removeAll());
let pools: WorkerPool[] = [];
afterEach(async () => {
  await Promise.all(pools.map((p) => p.destroy()));
  pools = [];
});

const key = ageKeygen();
const keyFile = join(dirs.make(), 'age.key');
writeFileSync(keyFile, `${key.identity}\n`);
chmodSync(keyFile, 0o600);

function options(size: number, init: WorkerInit): PoolOptions {
  return { size, init, maxQueue: 16 };
}

function guessed(o: PoolOptions): WorkerPool {
  const p = WorkerPool.guessed({ ...o, maxQueue: 0 });
  pools.push(p);
  return p;
}

/** The key as its own buffer (what src/pool-guess.ts and src/config/age-key.ts each make). */
function inline(identity: string): WorkerInit {
  const bytes = Buffer.alloc(Buffer.byteLength(identity));
  bytes.write(identity);
  return { ageKey: { kind: 'inline', bytes } };
}

const ids = (p: WorkerPool): number[] => p.threads.map((t) => t.threadId);
const zeroed = (b: Uint8Array): boolean => b.every((x) => x === 0);

async function until(cond: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('WorkerPool.guessed and adopt', { timeout: 60_000 }, () => {
  test('the same options keep the started workers, which then run tasks with the key', async () => {
    const p = guessed(options(1, { ageKey: { kind: 'file', path: keyFile } }));
    const started = ids(p);
    assert.equal(started.length, 1, 'the guessed pool started its worker at once');
    assert.deepEqual(p.admit(), { ok: false, code: 'overloaded', message: 'the worker queue is full' }, 'no request is admitted before adopt');
    p.adopt(options(1, { ageKey: { kind: 'file', path: keyFile } }));
    assert.deepEqual(ids(p), started, 'kept');
    assert.deepEqual(await p.run({ type: 'checkKey' }), { ok: true });
    assert.equal(p.admit(), undefined, "the validated options' queue bound applies");
  });

  test('a different worker count replaces the workers', async () => {
    const p = guessed(options(1, { ageKey: { kind: 'file', path: keyFile } }));
    const started = ids(p);
    p.adopt(options(2, { ageKey: { kind: 'file', path: keyFile } }));
    assert.equal(p.size, 2);
    await until(() => ids(p).length === 2, 'two new workers');
    assert.ok(!ids(p).some((id) => started.includes(id)), 'none of the guessed pool’s workers is kept');
    assert.deepEqual(await p.run({ type: 'checkKey' }), { ok: true });
  });

  test('a different key replaces the workers: tasks run with the validated key, not the guessed one', async () => {
    const p = guessed(options(1, { ageKey: { kind: 'file', path: join(dirs.make(), 'not-this-one') } }));
    p.adopt(options(1, { ageKey: { kind: 'file', path: keyFile } }));
    assert.deepEqual(await p.run({ type: 'checkKey' }), { ok: true });
    const other = guessed(options(1, inline(ageKeygen().identity)));
    other.adopt(options(1, inline(key.identity)));
    assert.deepEqual(await other.run({ type: 'checkKey' }), { ok: true });
    const limits = guessed(options(1, { ageKey: { kind: 'file', path: keyFile }, maxKeys: 10 }));
    const started = ids(limits);
    limits.adopt(options(1, { ageKey: { kind: 'file', path: keyFile }, maxKeys: 20 }));
    assert.notDeepEqual(ids(limits), started, 'another key limit is other worker data: replaced');
  });

  test("the guess's inline key copy is wiped once no piscina can hand it out, never before", async () => {
    // Kept: the guessed piscina still starts workers (a crashed one is replaced) with its copy.
    const kept = inline(key.identity);
    const validated = inline(key.identity);
    const p = guessed(options(1, kept));
    p.adopt(options(1, validated));
    assert.deepEqual(await p.run({ type: 'checkKey' }), { ok: true });
    const keptBytes = kept.ageKey?.kind === 'inline' ? kept.ageKey.bytes : new Uint8Array(1);
    assert.ok(!zeroed(keptBytes), 'still in use while its piscina runs');
    await p.destroy();
    assert.ok(zeroed(keptBytes), 'wiped once the pool is destroyed');
    assert.ok(validated.ageKey?.kind === 'inline' && !zeroed(validated.ageKey.bytes), "the configuration's copy is the agent's to wipe (at close)");

    // Replaced: wiped once the guessed piscina has ended.
    const replaced = inline(ageKeygen().identity);
    const q = guessed(options(1, replaced));
    q.adopt(options(1, inline(key.identity)));
    const replacedBytes = replaced.ageKey?.kind === 'inline' ? replaced.ageKey.bytes : new Uint8Array(0);
    await until(() => zeroed(replacedBytes), 'the replaced guess wiped');
    assert.deepEqual(await q.run({ type: 'checkKey' }), { ok: true });

    // Refused configuration: the guessed pool is destroyed, and its copy wiped.
    const refused = inline(key.identity);
    await guessed(options(1, refused)).destroy();
    assert.ok(refused.ageKey?.kind === 'inline' && zeroed(refused.ageKey.bytes));
  });
});
