/**
 * SPEC §3 "Files the agent trusts" through the real agent process: a token or age key file another
 * user could have written refuses the start (exit 2, a message naming the variable, the path, the
 * owner or mode, what is accepted); a Kubernetes Secret volume (root-owned 0644 files behind
 * `..data` symlinks) starts a non-root agent without a warning; a non-root agent's own 0644 token
 * file starts with a warning. The non-root agent runs under `setpriv` as NON_ROOT.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson, type AgeKeyPair } from '../helpers/artifacts.js';
import { assertRefused, baseEnv, runCli, VALID_TOKEN } from '../helpers/config-cli.js';
import { AgentProcess, agentCommand, suiteTempDirs } from '../kit/index.js';

const OTHER = 12345;
const NON_ROOT = 4321;
const FILE_EXPECTED = 'expected a file owned by root and not writable by group or others';
const PAYLOAD = { app: { API_KEY: 'FileTrustSecret-1187' } };

/** The agent as NON_ROOT, with no supplementary groups. */
function nonRootAgent(env: Record<string, string>): AgentProcess {
  const [command, argv] = agentCommand([]);
  const agent = new AgentProcess(env, {
    binary: '/usr/bin/setpriv',
    args: [`--reuid=${NON_ROOT}`, `--regid=${NON_ROOT}`, '--clear-groups', command, ...argv],
  });
  cleanups.push(() => agent.stop());
  return agent;
}

function file(path: string, content: string, mode: number, uid = 0): string {
  writeFileSync(path, content);
  chmodSync(path, mode);
  chownSync(path, uid, uid);
  return path;
}

const cleanups: Array<() => Promise<unknown>> = [];
const root = suiteTempDirs('clef-trust-e2e-').make();
let base: Record<string, string>;
let key: AgeKeyPair;
let server: ArtifactServer;

before(async () => {
  // NON_ROOT must reach the files below (mkdtemp makes the directory 0700).
  chmodSync(root, 0o755);
  base = await baseEnv(root);
  key = await ageKeyPair();
  server = await new ArtifactServer().start();
  server.body = await artifactJson({ recipient: key.recipient, payload: PAYLOAD });
});
after(async () => {
  await Promise.all(cleanups.map((c) => c()));
  await server.close();
});

describe('§3 files the agent trusts, through the real agent', { concurrency: 4 }, () => {
  it('a token file another user created first in a 1777 directory → refused, exit 2, its token never used', { timeout: 30_000 }, async () => {
    const shared = join(root, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const planted = 'PlantedTokenChosenByAnotherUser-0123456789';
    const path = file(join(shared, 'token'), `${planted}\n`, 0o644, OTHER);
    assertRefused(
      await runCli(base, { CLEF_AGENT_TOKEN: null, CLEF_AGENT_TOKEN_FILE: path }),
      [`CLEF_AGENT_TOKEN_FILE: ${JSON.stringify(path)} is owned by uid ${OTHER}, not by root; ${FILE_EXPECTED}`],
      [planted],
    );
  });

  for (const [variable, mode] of [
    ['CLEF_AGENT_TOKEN_FILE', 0o666],
    ['CLEF_AGENT_TOKEN_FILE', 0o620],
    ['CLEF_AGENT_AGE_KEY_FILE', 0o666],
    ['CLEF_AGENT_AGE_KEY_FILE', 0o620],
  ] as const) {
    const shown = mode.toString(8).padStart(4, '0');
    it(`${variable} writable by group or others (mode ${shown}) → refused, exit 2`, { timeout: 30_000 }, async () => {
      const isToken = variable === 'CLEF_AGENT_TOKEN_FILE';
      const path = file(join(root, `${isToken ? 'token' : 'key'}-${shown}`), isToken ? VALID_TOKEN : key.identity, mode);
      const changes: Record<string, string | null> = isToken ? { CLEF_AGENT_TOKEN: null, [variable]: path } : { CLEF_AGENT_AGE_KEY: null, [variable]: path };
      assertRefused(
        await runCli(base, changes),
        [`${variable}: ${JSON.stringify(path)} is writable by group or others (mode ${shown}); ${FILE_EXPECTED}`],
        [VALID_TOKEN, key.identity],
      );
    });
  }

  it('a Kubernetes Secret volume (root-owned 0644 behind ..data links) starts a non-root agent without a warning', { timeout: 60_000 }, async () => {
    const volume = join(root, 'secret-volume');
    const data = join(volume, '..2026_12_05_10_00_00.000000001');
    mkdirSync(data, { recursive: true, mode: 0o755 });
    chmodSync(volume, 0o1777); // the mount point is not what is judged: the files are
    const token = 'k8s-secret-volume-token-0123456789abcdef';
    file(join(data, 'token'), token, 0o644);
    file(join(data, 'age-key'), `# created by age-keygen\n${key.identity}\n`, 0o644);
    symlinkSync('..2026_12_05_10_00_00.000000001', join(volume, '..data'));
    symlinkSync('..data/token', join(volume, 'token'));
    symlinkSync('..data/age-key', join(volume, 'age-key'));
    const agent = nonRootAgent({
      CLEF_AGENT_SOURCE: server.url(),
      CLEF_AGENT_TOKEN_FILE: join(volume, 'token'),
      CLEF_AGENT_AGE_KEY_FILE: join(volume, 'age-key'),
      CLEF_AGENT_WORKERS: '1',
    });
    await agent.ready();
    const r = await agent.request('/v1/secrets', { token });
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json(), PAYLOAD);
    assert.deepEqual(
      agent.logs().filter((l) => l.event === 'config.warning'),
      [],
    );
  });

  it("a non-root agent's own 0644 token file: starts, with a warning naming the file and its mode", { timeout: 60_000 }, async () => {
    const dir = join(root, 'own');
    mkdirSync(dir, { mode: 0o755 });
    const token = 'own-but-readable-token-0123456789abcdef';
    const path = file(join(dir, 'token'), token, 0o644, NON_ROOT);
    const agent = nonRootAgent({ CLEF_AGENT_SOURCE: server.url(), CLEF_AGENT_TOKEN_FILE: path, CLEF_AGENT_AGE_KEY: key.identity, CLEF_AGENT_WORKERS: '1' });
    await agent.ready();
    assert.equal((await agent.request('/v1/secrets', { token })).status, 200);
    const w = agent.logs().filter((l) => l.event === 'config.warning');
    assert.deepEqual(
      w.map((l) => l.msg),
      [`CLEF_AGENT_TOKEN_FILE ${JSON.stringify(path)} is readable by group or others (mode 0644); restrict it to 0600 or 0400`],
    );
    assert.ok(!agent.output.includes(token), 'the token is never logged');
  });
});
