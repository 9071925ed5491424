/**
 * The disk fallback cache (SPEC §4.4) through the real agent process: outages at start with and
 * without a warm cache, an outage longer than the TTL (serving within it, refusing after, the copy
 * purged), a corrupted artifact while a good one is cached, an unwritable cache directory,
 * revocation purging the copy, and a scan proving nothing but ciphertext is on disk.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AgentProcess, suiteTempDirs, waitUntil } from '../kit/index.js';
import { isEvent, polledAgentEnv, refreshed } from '../helpers/scenario.js';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson, type AgeKeyPair } from '../helpers/artifacts.js';

const SECRET = 'DiskCacheE2eSecret-5150';
const PAYLOAD = { app: { API_KEY: SECRET, DATABASE_URL: `postgres://u:${SECRET}-db@h/app` } };
let key: AgeKeyPair;
let good: string;
const root = suiteTempDirs('clef-cache-e2e-').make();
let n = 0;
const cleanups: Array<() => Promise<unknown>> = [];

before(async () => {
  key = await ageKeyPair();
  good = await artifactJson({ recipient: key.recipient, payload: PAYLOAD });
});
after(async () => {
  await Promise.all(cleanups.map((c) => c()));
});

async function server(body = good): Promise<ArtifactServer> {
  const s = await new ArtifactServer().start();
  s.body = body;
  cleanups.push(() => s.close());
  return s;
}

function spawn(source: string, cachePath: string, extra: Record<string, string> = {}): AgentProcess {
  const agent = new AgentProcess(polledAgentEnv(key.identity, { CLEF_AGENT_SOURCE: source, CLEF_AGENT_CACHE_PATH: cachePath, ...extra }));
  cleanups.push(() => agent.stop());
  return agent;
}

async function assertServing(agent: AgentProcess): Promise<void> {
  const r = await agent.request('/v1/secrets');
  assert.equal(r.status, 200, r.body);
  assert.deepEqual(r.json(), PAYLOAD);
}

/** A cache warmed by a first agent, which is then stopped. */
async function warmCache(src: ArtifactServer): Promise<string> {
  const dir = join(root, `cache-${n++}`);
  const agent = spawn(src.url(), dir);
  await agent.ready();
  await agent.stop();
  return dir;
}

/** The cached copy's files, without the rollback state file that lives next to them. */
/** The artifact copy's files: not the rollback state file, nor a write's temp file caught mid-rename. */
function cacheCopy(dir: string): string[] {
  return readdirSync(dir).filter((f) => !f.endsWith('.state.json') && !f.endsWith('.tmp'));
}

function metaFile(dir: string): string {
  const f = readdirSync(dir).find((x) => x.endsWith('.meta.json'));
  assert.ok(f !== undefined, `a meta file in ${readdirSync(dir).join(', ')}`);
  return join(dir, f);
}

describe('disk cache through the agent', { concurrency: 3 }, () => {
  it('source down at start with a warm cache: serves from disk, says so', { timeout: 90_000 }, async () => {
    const src = await server();
    const dir = await warmCache(src);
    src.behaviour = { kind: 'status', status: 503 };
    const agent = spawn(src.url(), dir);
    await agent.ready();
    await assertServing(agent);
    const loaded = agent.logs().find(refreshed());
    assert.equal(loaded?.['from'], 'disk_cache');
    assert.ok(agent.logs().some((l) => l.event === 'fetch.failed' && l['fallback'] === 'disk_cache'));
  });

  it('source down at start without a cache: refuses to start (non-zero exit, network hint)', { timeout: 90_000 }, async () => {
    const src = await server();
    src.behaviour = { kind: 'status', status: 503 };
    const agent = spawn(src.url(), join(root, `cache-${n++}`));
    assert.notEqual(await agent.exited(60_000), 0);
    assert.match(agent.stderr, /HTTP 503/);
  });

  it('source down longer than the TTL: serves within it, refuses after (cache_expired), the old copy is purged', { timeout: 90_000 }, async () => {
    const src = await server();
    const dir = await warmCache(src);
    // Age the copy to 15 s of the 30 s TTL instead of waiting for all of it. The 15 s left must
    // cover the agent's start-up and first answer on a loaded machine (a 6 s margin did not).
    const meta = JSON.parse(readFileSync(metaFile(dir), 'utf8')) as { fetchedAtMs: number };
    writeFileSync(metaFile(dir), JSON.stringify({ ...meta, fetchedAtMs: Date.now() - 15_000 }));
    src.behaviour = { kind: 'status', status: 503 };
    const agent = spawn(src.url(), dir);
    await agent.ready();
    await assertServing(agent);
    await waitUntil(async () => (await agent.request('/v1/ready')).status === 503, 30_000, 'TTL runs out');
    const r = await agent.request('/v1/secrets');
    assert.equal(r.status, 503);
    assert.equal(r.json<{ reason: string }>().reason, 'cache_expired');
    // The worker removes the files before its warning reaches the log: wait for the log line.
    await agent.logAfter(0, (l) => l.event === 'cache.warning' && /ignored and purged/.test(String(l.msg)), 20_000);
    assert.deepEqual(cacheCopy(dir), []);
  });

  it('a corrupted artifact while a good one is cached: keeps serving, keeps the good copy, restarts from it', { timeout: 90_000 }, async () => {
    const src = await server();
    const dir = join(root, `cache-${n++}`);
    const a = spawn(src.url(), dir);
    await a.ready();
    const mark = a.logs().length;
    src.body = good.slice(0, good.length - 20);
    await a.logAfter(mark, isEvent('artifact.invalid'), 20_000);
    await assertServing(a);
    await a.stop();
    const artifactFile = readdirSync(dir).find((f) => f.endsWith('.artifact')) ?? '';
    assert.equal(readFileSync(join(dir, artifactFile), 'utf8'), good, 'the cache still holds the good artifact');
    const b = spawn(src.url(), dir);
    await b.ready();
    await assertServing(b);
    assert.equal(b.logs().find(refreshed())?.['from'], 'disk_cache');
  });

  it('an unwritable cache directory: a warning, serving continues', { timeout: 60_000 }, async () => {
    const src = await server();
    const dir = join(root, `cache-${n++}`);
    // The tests run as root, where file modes do not stop writes: a non-empty directory squatting
    // on the artifact file's name makes the rename fail the same way a read-only volume would.
    const name = `clef-${createHash('sha256').update(src.url()).digest('hex').slice(0, 24)}`;
    mkdirSync(join(dir, `${name}.artifact`, 'squatter'), { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const agent = spawn(src.url(), dir);
    await agent.ready();
    await assertServing(agent);
    const w = await agent.logAfter(0, isEvent('cache.warning'), 10_000);
    assert.match(String(w.msg), /is not writable \((EISDIR|ENOTEMPTY|EEXIST)\); serving continues/);
    assert.equal(w.level, 'warn');
  });

  it('revocation purges the disk copy', { timeout: 60_000 }, async () => {
    const src = await server();
    const dir = join(root, `cache-${n++}`);
    const agent = spawn(src.url(), dir);
    await agent.ready();
    // The copy is written after the load is served: wait for it rather than race it.
    await waitUntil(() => cacheCopy(dir).length === 2, 20_000, 'the copy is written');
    const mark = agent.logs().length;
    src.body = JSON.stringify({ ...(JSON.parse(good) as object), revokedAt: new Date().toISOString() });
    await agent.logAfter(mark, isEvent('artifact.revoked'), 20_000);
    await waitUntil(() => cacheCopy(dir).length === 0, 20_000, 'the copy is purged');
    // The rollback state file is not part of the copy: it keeps the revocation.
    assert.ok(readdirSync(dir).some((f) => f.endsWith('.state.json')));
  });

  it('nothing but ciphertext on disk: no secret value, token or key in the cache directory; 0700/0600', { timeout: 60_000 }, async () => {
    const src = await server();
    const dir = join(root, `cache-${n++}`);
    const agent = spawn(src.url(), dir);
    await agent.ready();
    await assertServing(agent);
    await agent.logAfter(0, isEvent('artifact.unchanged'), 20_000);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    const needles = [SECRET, `${SECRET}-db`, agent.token, key.identity, Buffer.from(SECRET).toString('base64')];
    for (const f of readdirSync(dir)) {
      assert.equal(statSync(join(dir, f)).mode & 0o777, 0o600, f);
      const content = readFileSync(join(dir, f));
      for (const s of needles) assert.ok(!content.includes(s), `${f} contains a secret`);
    }
  });
});
