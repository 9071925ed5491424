/**
 * What SECURITY.md says about the environment, shown on real agent processes: deleting
 * CLEF_AGENT_AGE_KEY from `process.env` keeps it from child processes, but `/proc/<pid>/environ`
 * is the environment the process was started with and still holds an inline key and token. The
 * file variants leave only paths there. The kernel lets the same uid and root read it, not others.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { AgentProcess, runCommand, TempDirs } from '../kit/index.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';
import { newToken } from '../helpers/scenario.js';

const dirs = new TempDirs('clef-environ-');
after(() => dirs.removeAll());

/** The NUL-separated `NAME=value` entries of a live process's initial environment. */
function environOf(pid: number | undefined): string[] {
  assert.ok(pid !== undefined);
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean);
}

const canSwitch = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;

describe('/proc/<pid>/environ keeps the environment the agent was started with', { timeout: 60_000 }, () => {
  it('an inline age key and token stay readable there; the file variants leave only their paths', async (t) => {
    const key = await ageKeyPair();
    const server = await new ArtifactServer().start();
    t.after(() => server.close());
    server.body = await artifactJson({ recipient: key.recipient, payload: { app: { K: 'environ' } } });
    const token = newToken();

    const inline = new AgentProcess({ CLEF_AGENT_SOURCE: server.url(), CLEF_AGENT_AGE_KEY: key.identity, CLEF_AGENT_TOKEN: token, CLEF_AGENT_WORKERS: '1' });
    t.after(() => inline.stop());
    await inline.ready();
    const env = environOf(inline.child.pid);
    assert.ok(env.includes(`CLEF_AGENT_AGE_KEY=${key.identity}`), 'the inline key is still in /proc/<pid>/environ');
    assert.ok(env.includes(`CLEF_AGENT_TOKEN=${token}`), 'the inline token is still in /proc/<pid>/environ');

    if (canSwitch) {
      // Another unprivileged uid is refused by the kernel (ptrace access mode check).
      const other = await runCommand('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', `/proc/${inline.child.pid}/environ`], {
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      });
      assert.notEqual(other.code, 0);
      assert.doesNotMatch(other.stdout, /AGE-SECRET-KEY/);
    }

    const dir = dirs.make();
    const keyFile = join(dir, 'age.key');
    const tokenFile = join(dir, 'token');
    writeFileSync(keyFile, `${key.identity}\n`, { mode: 0o600 });
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const fromFiles = new AgentProcess({
      CLEF_AGENT_SOURCE: server.url(),
      CLEF_AGENT_AGE_KEY_FILE: keyFile,
      CLEF_AGENT_TOKEN_FILE: tokenFile,
      CLEF_AGENT_WORKERS: '1',
    });
    t.after(() => fromFiles.stop());
    await fromFiles.ready();
    const fileEnv = environOf(fromFiles.child.pid);
    assert.ok(fileEnv.includes(`CLEF_AGENT_AGE_KEY_FILE=${keyFile}`));
    assert.ok(fileEnv.includes(`CLEF_AGENT_TOKEN_FILE=${tokenFile}`));
    const all = fileEnv.join('\n');
    assert.ok(!all.includes(key.identity), 'no key material in the environ of a key-file agent');
    assert.ok(!all.includes(token), 'no token in the environ of a token-file agent');
  });
});
