/**
 * SPEC §5.1: `--inspect` (on the command line or in NODE_OPTIONS) is refused at start-up. Node
 * flags exist only for `node dist/src/main.js`, so the binary leg does not run this file: the
 * standalone binary takes no Node flags and ignores NODE_OPTIONS (test/binary checks that).
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { AgentProcess, suiteTempDirs } from '../kit/index.js';
import { ageKeyPair, artifactJson, samplePayload } from '../helpers/artifacts.js';
import { TOKEN } from '../helpers/http-fixtures.js';

/** Run the agent with extra node flags / env until it exits (bounded). */
async function runToExit(
  nodeArgs: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const agent = new AgentProcess(env, { nodeArgs });
  const code = await agent.exited(20_000);
  return { code, signal: agent.child.signalCode, stdout: agent.stdout, stderr: agent.stderr };
}

describe('§5.1 --inspect is refused at start-up', { timeout: 60_000 }, () => {
  let env: Record<string, string>;
  const dir = suiteTempDirs().make();
  before(async () => {
    const key = await ageKeyPair();
    const path = join(dir, 'artifact.json');
    writeFileSync(path, await artifactJson({ recipient: key.recipient, payload: samplePayload('INSP2') }));
    env = { CLEF_AGENT_SOURCE: path, CLEF_AGENT_AGE_KEY: key.identity, CLEF_AGENT_TOKEN: TOKEN, CLEF_AGENT_WORKERS: '1' };
  });

  it('§5.1 node --inspect=127.0.0.1:0 → refuses to start (non-zero exit, message names --inspect)', async () => {
    const r = await runToExit(['--inspect=127.0.0.1:0'], env);
    assert.equal(r.signal, null, 'exited by itself');
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /inspect/i);
    assert.ok(!r.stdout.includes('"event":"listening"'), 'never listened');
  });

  it('§5.1 NODE_OPTIONS=--inspect=127.0.0.1:0 → refuses to start (non-zero exit, message)', async () => {
    const r = await runToExit([], { ...env, NODE_OPTIONS: '--inspect=127.0.0.1:0' });
    assert.equal(r.signal, null);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /inspect/i);
    assert.ok(!r.stdout.includes('"event":"listening"'));
  });

  it('§5.1 node --inspect-port=0 --inspect → refuses to start', async () => {
    const r = await runToExit(['--inspect-port=0', '--inspect'], env);
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /inspect/i);
  });
});
