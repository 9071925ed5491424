/**
 * The disk fallback cache (SPEC §4.4) in-process: atomic 0600 files in a 0700 directory, the
 * marker and fetch time beside the artifact, fallback when the source fails (validated in full
 * again), age limits, purge on revocation/expiry/too old, corrupted or truncated copies ignored
 * with a warning, an unwritable directory a warning only. The load task runs on a fixed clock.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { suiteTempDirs } from '../kit/index.js';
import type { DiskCachePolicy, LoadResult, LoadTask, WorkerInit } from '../../common/protocol.js';
import { cacheFiles } from '../../workers/cache/disk.js';
import { load } from '../../workers/load.js';
import { ageKeygen, ageLibEncrypt, makeArtifact, NOW_MS, PACKED_AT } from './helpers.js';

const root = suiteTempDirs('clef-cache-test-').make();

const SECRET = 'DiskCacheSecretValue-7731';
let init: WorkerInit;
let good: string;
let revoked: string;
let expired: string;
let n = 0;

before(async () => {
  const pair = ageKeygen();
  init = { ageKey: { kind: 'inline', bytes: new TextEncoder().encode(pair.identity) } };
  const age = await ageLibEncrypt(JSON.stringify({ app: { API_KEY: SECRET } }), pair.recipient);
  good = JSON.stringify(makeArtifact(age));
  revoked = JSON.stringify({ ...(JSON.parse(good) as object), revokedAt: PACKED_AT });
  expired = JSON.stringify(makeArtifact(age, { expiresAt: new Date(NOW_MS - 1000).toISOString() }));
});

/** A fresh cache dir (not created yet) and a file source in another dir. */
function setup(maxAgeMs = 300_000): { dc: DiskCachePolicy; source: string; task: (o?: Partial<LoadTask>) => LoadTask } {
  const base = join(root, `t${n++}`);
  const dc: DiskCachePolicy = { dir: join(base, 'cache'), name: 'clef-test', maxAgeMs, kmsAnyAge: false };
  const source = join(base, 'artifact.json');
  const task = (o: Partial<LoadTask> = {}): LoadTask => ({
    type: 'load',
    mode: 'cached',
    source: { kind: 'file', path: source },
    fetch: { timeoutMs: 1000, maxBytes: 1024 * 1024, retries: 0, allowHttp: false },
    validation: { nowMs: NOW_MS },
    diskCache: dc,
    ...o,
  });
  return { dc, source, task };
}

function put(path: string, body: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, body);
}

function loaded(r: LoadResult): Extract<LoadResult, { outcome: 'loaded' }> {
  assert.ok(r.ok && r.outcome === 'loaded', JSON.stringify(r).slice(0, 400));
  return r;
}

function warnings(r: LoadResult): string[] {
  return [...(r.cache?.warnings ?? [])];
}

describe('disk cache: writing', () => {
  test('a validated artifact is written still encrypted: 0600 files in a 0700 directory, marker and fetch time beside it', async () => {
    const { dc, source, task } = setup();
    put(source, good);
    loaded(await load(task(), init));
    const files = cacheFiles(dc.dir, dc.name);
    assert.equal(statSync(dc.dir).mode & 0o777, 0o700);
    assert.equal(statSync(files.artifact).mode & 0o777, 0o600);
    assert.equal(statSync(files.meta).mode & 0o777, 0o600);
    assert.equal(readFileSync(files.artifact, 'utf8'), good);
    const meta = JSON.parse(readFileSync(files.meta, 'utf8')) as Record<string, unknown>;
    assert.equal(meta['fetchedAtMs'], NOW_MS);
    assert.equal(meta['v'], 1);
    assert.deepEqual(readdirSync(dc.dir).sort(), ['clef-test.artifact', 'clef-test.meta.json'], 'no temp file left behind');
    for (const f of readdirSync(dc.dir)) assert.ok(!readFileSync(join(dc.dir, f), 'utf8').includes(SECRET), 'no plaintext on disk');
  });

  test('an existing 0755 directory of ours is used as is: never chmod-ed, no warning', async () => {
    const { dc, source, task } = setup();
    put(source, good);
    mkdirSync(dc.dir, { recursive: true });
    chmodSync(dc.dir, 0o755);
    const r = loaded(await load(task(), init));
    assert.equal(statSync(dc.dir).mode & 0o777, 0o755);
    assert.deepEqual(warnings(r), []);
    assert.equal(readFileSync(cacheFiles(dc.dir, dc.name).artifact, 'utf8'), good);
  });

  test('an unwritable cache directory is a warning; the load still succeeds', async () => {
    const { source, task } = setup();
    put(source, good);
    const blocker = join(root, `blocker-${n++}`);
    writeFileSync(blocker, 'a file where a directory should be');
    const r = loaded(await load(task({ diskCache: { dir: join(blocker, 'cache'), name: 'x', maxAgeMs: 1000, kmsAnyAge: false } }), init));
    assert.match(warnings(r).join('\n'), /cannot be used \(ENOTDIR\); continuing without it/);
  });

  test('an invalid fetched artifact is never written', async () => {
    const { dc, source, task } = setup();
    put(source, '{"version":1,"ciphertext":"broken"');
    const r = await load(task(), init);
    assert.ok(!r.ok && r.code === 'invalid_json');
    assert.equal(existsSync(cacheFiles(dc.dir, dc.name).artifact), false);
  });
});

describe('disk cache: fallback when the source fails', () => {
  async function warm(maxAgeMs?: number): Promise<ReturnType<typeof setup>> {
    const s = setup(maxAgeMs);
    put(s.source, good);
    loaded(await load(s.task(), init));
    return s;
  }

  test('source gone, copy younger than the TTL: loaded from disk, validated and decrypted again', async () => {
    const s = await warm();
    rmSync(s.source);
    const r = loaded(await load(s.task({ validation: { nowMs: NOW_MS + 60_000 } }), init));
    assert.equal(r.cache?.fromDisk?.fetchedAtMs, NOW_MS);
    assert.equal(r.cache?.fromDisk?.sourceFailure.code, 'source_unreadable');
    assert.ok(r.snapshot.entries.some((e) => e.qualified === 'app__API_KEY'));
  });

  test('source returns a corrupted artifact while a good one is cached: the cached one is loaded, the cache kept', async () => {
    const s = await warm();
    put(s.source, good.slice(0, 40));
    const r = loaded(await load(s.task(), init));
    assert.equal(r.cache?.fromDisk?.sourceFailure.code, 'invalid_json');
    assert.equal(readFileSync(cacheFiles(s.dc.dir, s.dc.name).artifact, 'utf8'), good);
  });

  test('the copy the agent already serves is not reloaded: the failure is reported as is', async () => {
    const s = await warm();
    const first = loaded(await load(s.task(), init));
    rmSync(s.source);
    const r = await load(s.task({ bytesHash: first.bytesHash }), init);
    assert.ok(!r.ok && r.code === 'source_unreadable');
  });

  test('a copy older than the allowed age is ignored and purged, with a warning', async () => {
    const s = await warm(30_000);
    rmSync(s.source);
    const r = await load(s.task({ validation: { nowMs: NOW_MS + 31_000 } }), init);
    assert.ok(!r.ok && r.code === 'source_unreadable');
    assert.match(warnings(r).join('\n'), /31 s old, older than the 30 s allowed; ignored and purged/);
    assert.deepEqual(readdirSync(s.dc.dir), []);
  });

  test('a truncated artifact file is ignored with a warning, never a crash', async () => {
    const s = await warm();
    const files = cacheFiles(s.dc.dir, s.dc.name);
    writeFileSync(files.artifact, good.slice(0, 100));
    rmSync(s.source);
    const r = await load(s.task(), init);
    assert.ok(!r.ok && r.code === 'source_unreadable');
    assert.match(warnings(r).join('\n'), /truncated or corrupted/);
  });

  test('a corrupted meta file is ignored with a warning', async () => {
    const s = await warm();
    writeFileSync(cacheFiles(s.dc.dir, s.dc.name).meta, '{"v":1,"fetchedAtMs":"soon"');
    rmSync(s.source);
    const r = await load(s.task(), init);
    assert.ok(!r.ok);
    assert.match(warnings(r).join('\n'), /unreadable or corrupted \(invalid JSON\)/);
  });

  test('no cache yet: the plain failure, no warning', async () => {
    const s = setup();
    const r = await load(s.task(), init);
    assert.ok(!r.ok && r.code === 'source_unreadable');
    assert.deepEqual(warnings(r), []);
  });

  test('in JIT mode an old copy of an age artifact is still refused (only KMS artifacts may be any age)', async () => {
    const s = await warm(30_000);
    rmSync(s.source);
    const jit = { ...s.dc, kmsAnyAge: true };
    const r = await load(s.task({ mode: 'jit', diskCache: jit, validation: { nowMs: NOW_MS + 3_600_000 } }), init);
    assert.ok(!r.ok);
    assert.match(warnings(r).join('\n'), /older than the 30 s allowed/);
  });
});

describe('disk cache: purges', () => {
  test('a revoked artifact from the source purges the copy', async () => {
    const s = setup();
    put(s.source, good);
    loaded(await load(s.task(), init));
    put(s.source, revoked);
    const r = await load(s.task(), init);
    assert.ok(r.ok && r.outcome === 'revoked');
    assert.deepEqual(readdirSync(s.dc.dir), []);
  });

  test('an expired artifact from the source purges the copy', async () => {
    const s = setup();
    put(s.source, good);
    loaded(await load(s.task(), init));
    put(s.source, expired);
    const r = await load(s.task(), init);
    assert.ok(!r.ok && r.code === 'expired');
    assert.deepEqual(readdirSync(s.dc.dir), []);
  });

  test('an unchanged answer refreshes the fetch time (at most every tenth of the allowed age)', async () => {
    const s = setup(300_000);
    put(s.source, good);
    const first = loaded(await load(s.task(), init));
    const meta = (): number => (JSON.parse(readFileSync(cacheFiles(s.dc.dir, s.dc.name).meta, 'utf8')) as { fetchedAtMs: number }).fetchedAtMs;
    await load(s.task({ bytesHash: first.bytesHash, validation: { nowMs: NOW_MS + 10_000 } }), init);
    assert.equal(meta(), NOW_MS, 'not rewritten within a tenth of the TTL');
    await load(s.task({ bytesHash: first.bytesHash, validation: { nowMs: NOW_MS + 40_000 } }), init);
    assert.equal(meta(), NOW_MS + 40_000);
  });
});

describe('disk cache: who may have written it (checked before every access)', () => {
  const OTHER = 12345;
  async function warm(): Promise<ReturnType<typeof setup>> {
    const s = setup();
    put(s.source, good);
    loaded(await load(s.task(), init));
    rmSync(s.source);
    return s;
  }

  for (const which of ['artifact', 'meta'] as const) {
    test(`a cache ${which} file owned by another user is never loaded: a warning, the plain failure`, async () => {
      const s = await warm();
      chownSync(cacheFiles(s.dc.dir, s.dc.name)[which], OTHER, OTHER);
      const r = await load(s.task(), init);
      assert.ok(!r.ok && r.code === 'source_unreadable', JSON.stringify(r).slice(0, 300));
      assert.match(warnings(r).join('\n'), new RegExp(`${which === 'meta' ? 'meta\\.json' : 'artifact'} is owned by uid ${OTHER}, not by root; not loaded`));
    });
  }

  test('a cache file group or others can write is never loaded', async () => {
    const s = await warm();
    chmodSync(cacheFiles(s.dc.dir, s.dc.name).artifact, 0o666);
    const r = await load(s.task(), init);
    assert.ok(!r.ok && r.code === 'source_unreadable');
    assert.match(warnings(r).join('\n'), /artifact is writable by group or others \(mode 0666\); not loaded/);
  });

  test('a cache directory now owned by another user is neither read nor written', async () => {
    const s = await warm();
    chownSync(s.dc.dir, OTHER, OTHER);
    const r = await load(s.task(), init);
    assert.ok(!r.ok && r.code === 'source_unreadable');
    assert.match(warnings(r).join('\n'), new RegExp(`cache is owned by uid ${OTHER}, not by root; not used`));
    put(s.source, good);
    const before = statSync(cacheFiles(s.dc.dir, s.dc.name).meta).mtimeMs;
    const w = loaded(await load(s.task({ validation: { nowMs: NOW_MS + 1 } }), init));
    assert.match(warnings(w).join('\n'), /not used/);
    assert.equal(statSync(cacheFiles(s.dc.dir, s.dc.name).meta).mtimeMs, before, 'nothing written there');
  });

  test('a cache directory swapped for a symbolic link is not followed', async () => {
    const s = await warm();
    const moved = `${s.dc.dir}-moved`;
    renameSync(s.dc.dir, moved);
    symlinkSync(moved, s.dc.dir);
    const r = await load(s.task(), init);
    assert.ok(!r.ok && r.code === 'source_unreadable');
    assert.match(warnings(r).join('\n'), /cache is a symbolic link; not used/);
  });

  test('a cache directory group or others can write is not used', async () => {
    const s = await warm();
    chmodSync(s.dc.dir, 0o777);
    const r = await load(s.task(), init);
    assert.ok(!r.ok);
    assert.match(warnings(r).join('\n'), /cache is writable by group or others \(mode 0777\); not used/);
    assert.equal(statSync(s.dc.dir).mode & 0o777, 0o777, 'never chmod-ed');
  });

  test('a purge never removes files from a directory that is not trusted', async () => {
    const s = setup();
    put(s.source, good);
    loaded(await load(s.task(), init));
    chownSync(s.dc.dir, OTHER, OTHER);
    put(s.source, revoked);
    const r = await load(s.task(), init);
    assert.ok(r.ok && r.outcome === 'revoked');
    assert.equal(readdirSync(s.dc.dir).length, 2);
    assert.match(warnings(r).join('\n'), new RegExp(`cache is owned by uid ${OTHER}, not by root; not purged`));
  });
});
