/**
 * `/v1/health` needs no token, so any local process reads it: it reports a failure's code and time,
 * never its message, which names the source path and can quote text from the artifact. The message
 * is in the agent's log.
 */
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { it } from 'node:test';
import { AgentProcess, tempDir } from '../kit/index.js';
import { fetchFailed, invalid, polledAgentEnv } from '../helpers/scenario.js';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';

it('health reports the code of the last failure, not its message with the source path or artifact text', { timeout: 60_000 }, async (t) => {
  const key = await ageKeyPair();
  const dir = join(tempDir(t), 'health-detail-dir-7c1e');
  mkdirSync(dir);
  const path = join(dir, 'svc.age.json');
  writeFileSync(path, await artifactJson({ recipient: key.recipient, payload: { app: { K: 'v' } } }));
  const agent = new AgentProcess(polledAgentEnv(key.identity, { CLEF_AGENT_SOURCE: path, CLEF_AGENT_EXPECT_IDENTITY: 'api' }));
  t.after(() => agent.stop());
  await agent.ready();
  const planted = 'planted-text-<script>-4b9a';

  let from = agent.logs().length;
  writeFileSync(path, await artifactJson({ recipient: key.recipient, payload: { app: { K: 'x' } }, identity: planted }));
  const mismatch = await agent.logAfter(from, invalid('identity_mismatch'));
  assert.match(String(mismatch['msg']), new RegExp(planted));
  let raw = (await agent.request('/v1/health')).body;
  assert.deepEqual(Object.keys((JSON.parse(raw) as { lastError: object }).lastError).sort(), ['at', 'code']);
  assert.ok(!raw.includes(planted), raw);

  from = agent.logs().length;
  rmSync(path);
  const unreadable = await agent.logAfter(from, fetchFailed('source_unreadable'));
  assert.ok(String(unreadable['msg']).includes(path), 'the log names the path');
  raw = (await agent.request('/v1/health')).body;
  assert.equal((JSON.parse(raw) as { lastError: { code: string } }).lastError.code, 'source_unreadable');
  assert.ok(!raw.includes('health-detail-dir-7c1e'), raw);
});
