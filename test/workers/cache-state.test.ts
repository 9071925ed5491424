/**
 * The rollback state file (workers/cache/state.ts) on a real filesystem: missing is a fresh start,
 * a round trip keeps both fields, and every way the file can be bad or untrusted is a failure that
 * names the file, never a silent reset.
 */
import assert from 'node:assert/strict';
import { chmodSync, chownSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readState, stateFile, writeState } from '../../workers/cache/state.js';
import { tempDir } from '../kit/index.js';

const NOW = Date.parse('2026-03-01T12:00:00Z');

async function refusal(dir: string, nowMs = NOW): Promise<string> {
  const r = await readState(dir, 'clef-x', nowMs);
  assert.equal(r.ok, false, JSON.stringify(r));
  if (r.ok) return '';
  assert.equal(r.code, 'state_invalid');
  assert.ok(r.message.startsWith(`rollback state file ${stateFile(dir, 'clef-x')} is `), r.message);
  return r.message;
}

test('missing is a fresh start; a written state reads back, 0600, in a directory created 0700', async (t) => {
  const dir = join(tempDir(t), 'cache');
  assert.deepEqual(await readState(dir, 'clef-x', NOW), { ok: true, state: null });
  const state = { floor: '2026-03-01T11:00:00.000Z', revocation: { revokedAt: 'x\ny', seenAt: '2026-03-01T11:30:00.000Z' } };
  assert.deepEqual(await writeState(dir, 'clef-x', state), { ok: true });
  assert.equal(statSync(stateFile(dir, 'clef-x')).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.deepEqual(await readState(dir, 'clef-x', NOW), { ok: true, state });
  await writeState(dir, 'clef-x', { floor: '2026-03-01T11:05:00.000Z' });
  assert.deepEqual(await readState(dir, 'clef-x', NOW), { ok: true, state: { floor: '2026-03-01T11:05:00.000Z' } });
});

test('corrupted contents are refused with what is wrong, and the file is left alone', async (t) => {
  const dir = tempDir(t);
  const file = stateFile(dir, 'clef-x');
  const cases: Array<[string, RegExp]> = [
    ['{"v":1,"floor":"2026-03', /corrupted: not valid JSON/],
    ['[]', /corrupted: not a JSON object/],
    ['{"v":2}', /corrupted: unknown version/],
    ['{"v":1,"floor":12}', /corrupted: "floor" is not an ISO-8601 date-time/],
    ['{"v":1,"revocation":{"revokedAt":"x"}}', /corrupted: "revocation.seenAt" is not an ISO-8601 date-time/],
    ['{"v":1,"revocation":{"revokedAt":5,"seenAt":"2026-03-01T11:00:00Z"}}', /corrupted: "revocation.revokedAt"/],
    ['{"v":1,"floor":"2026-03-01T12:06:00Z"}', /ahead of this host's clock \(2026-03-01T12:00:00\.000Z\); check the clock/],
  ];
  for (const [content, problem] of cases) {
    writeFileSync(file, content, { mode: 0o600 });
    assert.match(await refusal(dir), problem);
    assert.equal(readFileSync(file, 'utf8'), content);
  }
  writeFileSync(file, '{"v":1,"floor":"2026-03-01T12:05:00Z"}');
  assert.equal((await readState(dir, 'clef-x', NOW)).ok, true, 'up to 5 minutes ahead is clock drift');
});

test('a symlink, another owner, a group/other-writable mode or a directory are untrusted', async (t) => {
  const dir = tempDir(t);
  const file = stateFile(dir, 'clef-x');
  const real = join(dir, 'real.json');
  writeFileSync(real, '{"v":1}', { mode: 0o600 });
  symlinkSync(real, file);
  assert.match(await refusal(dir), /untrusted: it is a symbolic link/);

  const d2 = tempDir(t);
  const f2 = stateFile(d2, 'clef-x');
  writeFileSync(f2, '{"v":1}', { mode: 0o600 });
  chmodSync(f2, 0o620);
  assert.match(await refusal(d2), /untrusted: it is writable by group or others \(mode 0620\)/);
  chmodSync(f2, 0o600);
  chownSync(f2, 4242, 4242);
  assert.match(await refusal(d2), /untrusted: it is owned by uid 4242, not by root/);
});
