/**
 * `clef-agent exec` on rotation (issue 17 point 3), through the real process and a real artifact
 * server polled every 5 s: restart with the new values (and the grace → SIGKILL path), signal on
 * change, nothing by default, and revocation stopping the command (or not, with --keep-on-revoke).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startExec, trappingScript } from '../helpers/exec.js';

const FIRST = { app: { API_KEY: 'first-value' } };
const SECOND = { app: { API_KEY: 'second-value' } };
const PRINT_KEY = 'echo "KEY=$app__API_KEY";';
const event =
  (name: string, fields: Record<string, unknown> = {}) =>
  (l: { event?: string; [k: string]: unknown }): boolean =>
    l.event === name && Object.entries(fields).every(([k, v]) => l[k] === v);
const started = (logs: readonly { event?: string }[]): number => logs.filter((l) => l.event === 'exec.child_started').length;

describe('exec: rotation', { concurrency: true }, () => {
  it('--restart-on-change: a command ignoring SIGTERM is killed after --grace and started again with the new values', { timeout: 60_000 }, async (t) => {
    const script = trappingScript({ TERM: 'echo ignoring-TERM', INT: 'exit 9' }, PRINT_KEY);
    const e = await startExec({ payload: FIRST, args: ['--restart-on-change', '--grace', '1', '--', 'sh', '-c', script] });
    t.after(() => e.close());
    await e.output('KEY=first-value');
    await e.publish({ payload: SECOND });
    await e.output('KEY=second-value', 1, 30_000);
    assert.ok(e.proc.stdout.includes('ignoring-TERM'), e.proc.stdout);
    const stopped = await e.logAfter(0, event('exec.child_stopped', { reason: 'restart' }));
    assert.equal(stopped['killed'], true);
    assert.equal(stopped['status'], 128 + 9);
    await e.logAfter(0, event('exec.child_started', { reason: 'change' }));
    e.proc.child.kill('SIGINT');
    assert.equal(await e.proc.exited(20_000), 9, e.proc.output);
  });

  it('--signal-on-change (JIT mode): the command gets the signal and keeps running', { timeout: 60_000 }, async (t) => {
    const script = trappingScript({ USR1: 'echo reload', TERM: 'exit 3' }, PRINT_KEY);
    const e = await startExec({ payload: FIRST, args: ['--signal-on-change', 'USR1', '--', 'sh', '-c', script], env: { CLEF_AGENT_CACHE_TTL: '0' } });
    t.after(() => e.close());
    await e.output('KEY=first-value');
    await e.publish({ payload: SECOND });
    await e.output('reload', 1, 30_000);
    await e.logAfter(0, event('exec.change_signalled', { signal: 'SIGUSR1' }));
    assert.equal(started(e.proc.logs()), 1);
    e.proc.child.kill('SIGTERM');
    assert.equal(await e.proc.exited(20_000), 3, e.proc.output);
  });

  it('by default a new artifact only logs: the command keeps running with its environment', { timeout: 60_000 }, async (t) => {
    const script = trappingScript({ TERM: 'exit 4' }, PRINT_KEY);
    const e = await startExec({ payload: FIRST, args: ['--', 'sh', '-c', script] });
    t.after(() => e.close());
    await e.output('KEY=first-value');
    await e.publish({ payload: SECOND });
    await e.logAfter(0, event('exec.change_ignored'), 30_000);
    assert.equal(started(e.proc.logs()), 1);
    assert.ok(!e.proc.stdout.includes('second-value'));
    e.proc.child.kill('SIGTERM');
    assert.equal(await e.proc.exited(20_000), 4, e.proc.output);
  });

  it('revocation stops the command; a later valid artifact starts it again', { timeout: 60_000 }, async (t) => {
    const script = trappingScript({ TERM: 'echo stopped-by-TERM; exit 0' }, PRINT_KEY);
    const e = await startExec({ payload: FIRST, args: ['--', 'sh', '-c', script] });
    t.after(() => e.close());
    await e.output('KEY=first-value');
    e.server.body = JSON.stringify({ ...(JSON.parse(e.server.body) as object), revokedAt: new Date().toISOString() });
    const stopped = await e.logAfter(0, event('exec.child_stopped', { reason: 'revoked' }), 30_000);
    assert.equal(stopped['killed'], false);
    assert.ok(e.proc.stdout.includes('stopped-by-TERM'));
    assert.ok(e.proc.logs().some(event('exec.stopping_child', { reason: 'revoked' })));
    // exec waits for a valid artifact instead of exiting.
    assert.equal(e.proc.child.exitCode, null);
    await e.publish({ payload: SECOND, packedAt: new Date().toISOString() });
    await e.output('KEY=second-value', 1, 30_000);
    await e.logAfter(0, event('exec.child_started', { reason: 'republished' }));
    e.proc.child.kill('SIGTERM');
    assert.equal(await e.proc.exited(20_000), 0, e.proc.output);
  });

  it('expiry (a fetched artifact past its expiresAt) stops the command too', { timeout: 60_000 }, async (t) => {
    const script = trappingScript({ TERM: 'echo stopped-by-TERM; exit 0' }, PRINT_KEY);
    const e = await startExec({ payload: FIRST, args: ['--', 'sh', '-c', script] });
    t.after(() => e.close());
    await e.output('KEY=first-value');
    await e.publish({ payload: SECOND, expiresAt: new Date(Date.now() - 60_000).toISOString() });
    const stopped = await e.logAfter(0, event('exec.child_stopped', { reason: 'expired' }), 30_000);
    assert.equal(stopped['killed'], false);
    assert.ok(e.proc.stdout.includes('stopped-by-TERM'));
    assert.ok(!e.proc.stdout.includes('second-value'));
    assert.equal(e.proc.child.exitCode, null);
    // Nothing to forward to: SIGTERM ends exec with the stopped command's status.
    e.proc.child.kill('SIGTERM');
    assert.equal(await e.proc.exited(20_000), 0, e.proc.output);
  });

  it('--keep-on-revoke leaves the command running, and says so', { timeout: 60_000 }, async (t) => {
    const script = trappingScript({ TERM: 'exit 6' }, PRINT_KEY);
    const e = await startExec({ payload: FIRST, args: ['--keep-on-revoke', '--', 'sh', '-c', script] });
    t.after(() => e.close());
    await e.output('KEY=first-value');
    e.server.body = JSON.stringify({ ...(JSON.parse(e.server.body) as object), revokedAt: new Date().toISOString() });
    await e.logAfter(0, event('exec.kept_on_revoke', { reason: 'revoked' }), 30_000);
    assert.equal(e.proc.child.exitCode, null);
    assert.ok(!e.proc.logs().some(event('exec.child_stopped')));
    e.proc.child.kill('SIGTERM');
    assert.equal(await e.proc.exited(20_000), 6, e.proc.output);
  });

  it('--restart-on-exit starts a command that exited by itself again, rate-limited', { timeout: 60_000 }, async (t) => {
    const e = await startExec({ payload: FIRST, args: ['--restart-on-exit', '--', 'sh', '-c', `${PRINT_KEY} exit 1`] });
    t.after(() => e.close());
    await e.output('KEY=first-value', 2);
    const delayed = await e.logAfter(0, event('exec.restart_delayed'));
    assert.ok((delayed['delayMs'] as number) > 0);
    e.proc.child.kill('SIGTERM');
    // Between two runs (no command to forward to) or during one: exec ends either way.
    const code = await e.proc.exited(20_000);
    assert.ok(code === 1 || code === 143, e.proc.output);
  });
});
