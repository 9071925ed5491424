/**
 * SPEC §4.3 step 7 across restarts, through the real agent process with a file source and a disk
 * cache: the rollback floor and an active revocation are kept in the state file next to the cache,
 * so a restart neither takes an older artifact back nor lets the replayed pre-revocation artifact
 * end a revocation; a bad state file refuses the start. And a `packedAt` far in the future
 * (clock_skew) is refused without pinning the floor.
 */
import assert from 'node:assert/strict';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AgentProcess, tempDir, waitUntil } from '../kit/index.js';
import { invalid, isoIn, polledAgentEnv, refreshed, startPolled } from '../helpers/scenario.js';
import { ageKeyPair, artifactJson, signingKey, type AgeKeyPair } from '../helpers/artifacts.js';

interface Setup {
  readonly key: AgeKeyPair;
  readonly source: string;
  readonly cache: string;
  spawn(extra?: Record<string, string>): AgentProcess;
}

function setup(t: { after(fn: () => unknown): void }, key: AgeKeyPair): Setup {
  const dir = tempDir(t);
  const source = join(dir, 'artifact.json');
  const cache = join(dir, 'cache');
  return {
    key,
    source,
    cache,
    spawn: (extra = {}) => {
      const agent = new AgentProcess(polledAgentEnv(key.identity, { CLEF_AGENT_SOURCE: source, CLEF_AGENT_CACHE_PATH: cache, ...extra }));
      t.after(() => agent.stop());
      return agent;
    },
  };
}

function stateFile(cache: string): string {
  const f = readdirSync(cache).find((x) => x.endsWith('.state.json'));
  assert.ok(f !== undefined, `a state file in ${readdirSync(cache).join(', ')}`);
  return join(cache, f);
}

async function waitForState(cache: string, pred: (s: { floor?: string; revocation?: { seenAt: string } }) => boolean): Promise<void> {
  await waitUntil(
    () => {
      try {
        return pred(JSON.parse(readFileSync(stateFile(cache), 'utf8')) as { floor?: string });
      } catch {
        return false;
      }
    },
    20_000,
    'the state file',
  );
}

/** The agent exits non-zero without ever having served an artifact. */
async function assertStartRefused(agent: AgentProcess): Promise<void> {
  assert.notEqual(await agent.exited(30_000), 0, agent.output.slice(-3000));
  assert.equal(agent.logs().filter(refreshed()).length, 0, 'nothing was served');
}

describe('rollback floor and revocation across restarts (disk cache state file)', { concurrency: 3 }, () => {
  it('after a revocation, a restart with the replayed pre-revocation artifact is refused; a later artifact ends it', { timeout: 120_000 }, async (t) => {
    const s = setup(t, await ageKeyPair());
    const original = await artifactJson({ recipient: s.key.recipient, payload: { app: { K: 'pre-revocation' } }, packedAt: isoIn(-3600_000) });
    writeFileSync(s.source, original);
    const a = s.spawn();
    await a.ready();
    const from = a.logs().length;
    writeFileSync(s.source, JSON.stringify({ ...(JSON.parse(original) as object), revokedAt: new Date().toISOString() }));
    await a.logAfter(from, (l) => l.event === 'artifact.revoked');
    await waitForState(s.cache, (st) => st.revocation !== undefined);
    assert.equal(await a.stop(), 0);

    writeFileSync(s.source, original);
    const b = s.spawn();
    await assertStartRefused(b);
    assert.match(b.output, /a revocation persisted at \d{4}-\d\d-\d\dT[\d:.]+Z is active and only a later artifact ends it/);

    writeFileSync(s.source, await artifactJson({ recipient: s.key.recipient, payload: { app: { K: 'after' } }, revision: 'rev-after' }));
    const c = s.spawn();
    await c.ready();
    assert.equal((await c.request('/v1/secrets/K', { headers: { accept: 'text/plain' } })).body, 'after');
    assert.equal(c.logs().find(refreshed())?.['endedRevocation'], true);
    await waitForState(s.cache, (st) => st.revocation === undefined && st.floor !== undefined);
  });

  it('a restart replaying an older signed artifact is refused as rollback', { timeout: 120_000 }, async (t) => {
    const s = setup(t, await ageKeyPair());
    const sign = signingKey();
    const older = await artifactJson({ recipient: s.key.recipient, payload: { app: { K: 'older' } }, packedAt: isoIn(-7200_000), sign });
    const newer = await artifactJson({ recipient: s.key.recipient, payload: { app: { K: 'newer' } }, packedAt: isoIn(-3600_000), sign });
    writeFileSync(s.source, newer);
    const a = s.spawn({ CLEF_AGENT_VERIFY_KEY: sign.verifyKey });
    await a.ready();
    const newerPackedAt = (JSON.parse(newer) as { packedAt: string }).packedAt;
    await waitForState(s.cache, (st) => st.floor === newerPackedAt);
    assert.equal(await a.stop(), 0);
    // Without the cached copy only the state file stands between the replay and the agent.
    for (const f of readdirSync(s.cache)) if (!f.endsWith('.state.json')) rmSync(join(s.cache, f));

    writeFileSync(s.source, older);
    const b = s.spawn({ CLEF_AGENT_VERIFY_KEY: sign.verifyKey });
    await assertStartRefused(b);
    assert.match(b.stderr, new RegExp(`older than the served artifact's ${newerPackedAt.replace(/\./g, '\\.')}`));
    assert.ok(b.logs().some(invalid('rollback')));
  });

  it('a corrupted or untrusted state file refuses the start, names the file, and is left as it was', { timeout: 120_000 }, async (t) => {
    const s = setup(t, await ageKeyPair());
    writeFileSync(s.source, await artifactJson({ recipient: s.key.recipient, payload: { app: { K: 'v' } } }));
    const a = s.spawn();
    await a.ready();
    await waitForState(s.cache, (st) => st.floor !== undefined);
    assert.equal(await a.stop(), 0);
    const file = stateFile(s.cache);

    writeFileSync(file, '{"v":1,"floor":"not a date"}', { mode: 0o600 });
    const before = statSync(file);
    const b = s.spawn();
    await assertStartRefused(b);
    assert.equal(b.child.exitCode, 2);
    assert.ok(b.stderr.includes(`rollback state file ${file} is corrupted: "floor" is not an ISO-8601 date-time`), b.stderr);
    assert.match(b.stderr, /delete it to start without rollback protection from earlier runs/);
    assert.equal(readFileSync(file, 'utf8'), '{"v":1,"floor":"not a date"}');
    assert.equal(statSync(file).mtimeMs, before.mtimeMs);

    writeFileSync(file, JSON.stringify({ v: 1, floor: new Date().toISOString() }));
    chmodSync(file, 0o666);
    const c = s.spawn();
    await assertStartRefused(c);
    assert.ok(c.stderr.includes(`rollback state file ${file} is untrusted: it is writable by group or others (mode 0666)`), c.stderr);
  });
});

describe('§4.3 step 7: clock_skew', () => {
  it('a packedAt far in the future is refused (clock_skew) and does not pin the floor: the next normal artifact loads', { timeout: 60_000 }, async (t) => {
    const p = await startPolled({ payload: { app: { K: 'first' } }, first: { packedAt: isoIn(-60_000) } });
    t.after(() => p.close());
    const line = await p.swap(await p.artifact({ payload: { app: { K: 'future' } }, packedAt: '2036-01-01T00:00:00Z' }), invalid('clock_skew'));
    assert.match(String(line['msg']), /packedAt 2036-01-01T00:00:00Z is more than 5 minutes ahead/);
    await p.swap(await p.artifact({ payload: { app: { K: 'next' } }, revision: 'rev-next' }), refreshed('rev-next'));
    assert.equal((await p.get('/v1/secrets/K')).json<{ value: string }>().value, 'next');
  });
});
