/**
 * SPEC §3 / §4.4 through the real agent process: who may own the disk cache directory and the files
 * read from it. A 1777 CLEF_AGENT_CACHE_PATH keeps its mode and the cache lives in a private
 * `clef-agent-<euid>` inside it; a private directory someone else made, or a cache directory owned
 * by another user, refuses the start; cache files replaced while the agent runs by files another
 * user could have written are never loaded when the source goes down.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson, type AgeKeyPair } from '../helpers/artifacts.js';
import { assertRefused, baseEnv, runCli } from '../helpers/config-cli.js';
import { isEvent, polledAgentEnv, refreshed } from '../helpers/scenario.js';
import { AgentProcess, suiteTempDirs } from '../kit/index.js';

const OTHER = 12345;
const PAYLOAD = { app: { API_KEY: 'CacheTrustSecret-4410' } };
const PLANTED = { app: { API_KEY: 'PlantedByAnotherUser-9' } };
const root = suiteTempDirs('clef-cache-trust-').make();
const cleanups: Array<() => Promise<unknown>> = [];
let key: AgeKeyPair;
let good: string;
let n = 0;

before(async () => {
  key = await ageKeyPair();
  good = await artifactJson({ recipient: key.recipient, payload: PAYLOAD });
});
after(async () => {
  await Promise.all(cleanups.map((c) => c()));
});

async function server(): Promise<ArtifactServer> {
  const s = await new ArtifactServer().start();
  s.body = good;
  cleanups.push(() => s.close());
  return s;
}

function spawn(source: string, cachePath: string): AgentProcess {
  const agent = new AgentProcess(polledAgentEnv(key.identity, { CLEF_AGENT_SOURCE: source, CLEF_AGENT_CACHE_PATH: cachePath }));
  cleanups.push(() => agent.stop());
  return agent;
}

function sharedDir(): string {
  const dir = join(root, `shared-${n++}`);
  mkdirSync(dir);
  chmodSync(dir, 0o1777);
  return dir;
}

describe('disk cache trust through the agent', { concurrency: 3 }, () => {
  it(
    'CACHE_PATH is a 1777 directory: its mode is unchanged, the cache lives in clef-agent-0 and serves when the source is down',
    { timeout: 90_000 },
    async () => {
      const src = await server();
      const dir = sharedDir();
      const sub = join(dir, 'clef-agent-0');
      const a = spawn(src.url(), dir);
      await a.ready();
      assert.equal(a.logs().find(isEvent('agent.starting'))?.['cachePath'], sub, 'the start-up log names the directory used');
      await a.stop();
      assert.equal(statSync(dir).mode & 0o7777, 0o1777);
      assert.equal(statSync(sub).mode & 0o7777, 0o700);
      // The cached artifact and its meta, and the rollback state file beside them.
      assert.deepEqual(
        readdirSync(sub)
          .map((f) => f.replace(/^clef-[0-9a-f]+/, ''))
          .sort(),
        ['.artifact', '.meta.json', '.state.json'],
      );
      src.behaviour = { kind: 'status', status: 503 };
      const b = spawn(src.url(), dir);
      await b.ready();
      assert.equal(b.logs().find(refreshed())?.['from'], 'disk_cache');
      const r = await b.request('/v1/secrets');
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json(), PAYLOAD);
      assert.equal(statSync(dir).mode & 0o7777, 0o1777);
    },
  );

  it('a clef-agent-0 another user created first in the 1777 directory → refused, exit 2', { timeout: 30_000 }, async () => {
    const dir = sharedDir();
    const sub = join(dir, 'clef-agent-0');
    mkdirSync(sub, { mode: 0o700 });
    chownSync(sub, OTHER, OTHER);
    assertRefused(await runCli(await baseEnv(root), { CLEF_AGENT_CACHE_PATH: dir }), [
      `CLEF_AGENT_CACHE_PATH: ${JSON.stringify(sub)} (the agent's private cache directory) is owned by uid ${OTHER}; expected ${JSON.stringify(sub)} absent (the agent creates it) or a directory owned by uid 0 with mode 0700`,
    ]);
  });

  it('a 0700 cache directory owned by another user → refused, exit 2', { timeout: 30_000 }, async () => {
    const dir = join(root, `other-${n++}`);
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, OTHER, OTHER);
    assertRefused(await runCli(await baseEnv(root), { CLEF_AGENT_CACHE_PATH: dir }), [
      `CLEF_AGENT_CACHE_PATH: ${JSON.stringify(dir)} is owned by uid ${OTHER}, not by root; expected a directory owned by root that group and others cannot write (the agent then uses a subdirectory of its own), or a missing path to create`,
    ]);
  });

  for (const [how, plant, warning] of [
    ['owned by another user', (f: string) => chownSync(f, OTHER, OTHER), new RegExp(`is owned by uid ${OTHER}, not by root; not loaded`)],
    ['writable by group and others', (f: string) => chmodSync(f, 0o666), /is writable by group or others \(mode 0666\); not loaded/],
  ] as const) {
    it(`cache files replaced while the agent runs by files ${how}: not loaded when the source goes down, a warning`, { timeout: 90_000 }, async () => {
      const src = await server();
      const dir = join(root, `cache-${n++}`);
      const agent = spawn(src.url(), dir);
      await agent.ready();
      const name = readdirSync(dir)
        .find((f) => f.endsWith('.artifact'))
        ?.replace(/\.artifact$/, '');
      assert.ok(name !== undefined);
      // A newer, valid artifact for the same key: loaded from disk, it would be served.
      const planted = await artifactJson({ recipient: key.recipient, payload: PLANTED });
      const sha256 = createHash('sha256').update(planted).digest('hex');
      const files = [join(dir, `${name}.artifact`), join(dir, `${name}.meta.json`)] as const;
      writeFileSync(files[0], planted);
      writeFileSync(files[1], JSON.stringify({ v: 1, fetchedAtMs: Date.now(), sha256, size: Buffer.byteLength(planted) }));
      for (const f of files) plant(f);
      const mark = agent.logs().length;
      src.behaviour = { kind: 'status', status: 503 };
      const w = await agent.logAfter(mark, (l) => l.event === 'cache.warning' && warning.test(String(l.msg)), 30_000);
      assert.equal(w.level, 'warn');
      const r = await agent.request('/v1/secrets');
      assert.equal(r.status, 200, r.body);
      assert.deepEqual(r.json(), PAYLOAD, 'still the artifact from the source, not the planted one');
      assert.ok(!agent.logs().slice(mark).some(refreshed()), 'nothing was loaded from the disk cache');
    });
  }
});
