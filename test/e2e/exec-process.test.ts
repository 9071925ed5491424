/**
 * `clef-agent exec` (issue 17) through the real process: the command's environment for each naming
 * option, the agent's variables (age key and token given inline) never reaching it, exit codes and
 * signal deaths propagated, signals forwarded, a failed first load or a naming conflict never
 * starting it.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { OtlpCollector } from '../../emulators/otlp-collector.js';
import { startExec, trappingScript, type Exec } from '../helpers/exec.js';

const PAYLOAD = { app: { API_KEY: 'app-key-value', 'DB-URL': 'postgres://db' }, pay: { API_KEY: 'pay-key-value' } };
/** Prints the command's whole environment as one JSON line. */
const DUMP_ENV = [process.execPath, '-e', 'process.stdout.write("ENV:" + JSON.stringify(process.env) + "\\n")'];

function dumpedEnv(e: Exec): Record<string, string> {
  const line = e.proc.stdout.split('\n').find((l) => l.startsWith('ENV:'));
  assert.ok(line, e.proc.output);
  return JSON.parse(line.slice(4)) as Record<string, string>;
}

async function run(t: { after(fn: () => unknown): void }, args: readonly string[], env?: Record<string, string>): Promise<{ e: Exec; code: number | null }> {
  const e = await startExec({ payload: PAYLOAD, args, ...(env ? { env } : {}) });
  t.after(() => e.close());
  const code = await e.proc.exited(30_000);
  return { e, code };
}

describe('exec: the command and its environment', { concurrency: true }, () => {
  it('default names ns__KEY; no CLEF_AGENT_* variable, age key or token reaches the command', { timeout: 45_000 }, async (t) => {
    const { e, code } = await run(t, ['--', ...DUMP_ENV], { KEEP_ME: 'inherited', CLEF_AGENT_EXPECT_IDENTITY: 'api' });
    assert.equal(code, 0, e.proc.output);
    const env = dumpedEnv(e);
    assert.equal(env['app__API_KEY'], 'app-key-value');
    assert.equal(env['app__DB_URL'], 'postgres://db');
    assert.equal(env['pay__API_KEY'], 'pay-key-value');
    assert.equal(env['KEEP_ME'], 'inherited');
    assert.deepEqual(
      Object.keys(env).filter((k) => k.startsWith('CLEF_AGENT')),
      [],
    );
    const whole = JSON.stringify(env);
    assert.ok(!whole.includes(e.key.identity), 'the age key reached the command');
    assert.ok(!whole.includes(e.token), 'the token reached the command');
    // Nor does any log line carry a secret value, the key or the token.
    for (const secret of ['app-key-value', 'pay-key-value', e.key.identity, e.token]) assert.ok(!e.proc.stderr.includes(secret), secret);
    assert.ok(e.proc.logs().some((l) => l.event === 'exec.child_started'));
  });

  it('--env-prefix, --namespace and --no-qualify', { timeout: 45_000 }, async (t) => {
    const { e, code } = await run(t, ['--env-prefix', 'APP_', '--namespace', 'app', '--no-qualify', '--', ...DUMP_ENV]);
    assert.equal(code, 0, e.proc.output);
    const env = dumpedEnv(e);
    assert.equal(env['APP_API_KEY'], 'app-key-value');
    assert.equal(env['APP_DB_URL'], 'postgres://db');
    assert.deepEqual(
      Object.keys(env).filter((k) => k.includes('API_KEY') || k.includes('DB_URL')),
      ['APP_API_KEY', 'APP_DB_URL'],
    );
  });

  it('--no-qualify with a key in two namespaces: exit 2 naming both, the command never starts', { timeout: 45_000 }, async (t) => {
    const { e, code } = await run(t, ['--no-qualify', '--', 'sh', '-c', 'echo STARTED']);
    assert.equal(code, 2, e.proc.output);
    assert.match(e.proc.stderr, /app__API_KEY and pay__API_KEY share the key API_KEY/);
    assert.ok(!e.proc.stdout.includes('STARTED'));
  });

  it("an inherited variable of a secret's name: exit 2 unless --override", { timeout: 45_000 }, async (t) => {
    const refused = await run(t, ['--', 'sh', '-c', 'echo STARTED'], { app__API_KEY: 'preset' });
    assert.equal(refused.code, 2, refused.e.proc.output);
    assert.match(refused.e.proc.stderr, /app__API_KEY \(from app\/API_KEY\) is already set in the environment; pass --override/);
    assert.ok(!refused.e.proc.stdout.includes('STARTED'));
    const overridden = await run(t, ['--override', '--', 'sh', '-c', 'echo "KEY=$app__API_KEY"'], { app__API_KEY: 'preset' });
    assert.equal(overridden.code, 0, overridden.e.proc.output);
    assert.match(overridden.e.proc.stdout, /^KEY=app-key-value$/m);
  });

  it('exit codes and deaths by signal are propagated (128+n)', { timeout: 45_000 }, async (t) => {
    const [exit42, killed, missing] = await Promise.all([
      run(t, ['--', 'sh', '-c', 'exit 42']),
      run(t, ['--', 'sh', '-c', 'kill -KILL $$']),
      run(t, ['--', 'no-such-command-clef-agent-test']),
    ]);
    assert.equal(exit42.code, 42, exit42.e.proc.output);
    assert.equal(killed.code, 128 + 9, killed.e.proc.output);
    assert.equal(missing.code, 127, missing.e.proc.output);
    assert.match(missing.e.proc.stderr, /cannot start "no-such-command-clef-agent-test": command not found/);
  });

  it("SIGINT, SIGHUP, SIGQUIT and SIGUSR2 are forwarded; SIGTERM too, and exec exits with the command's code", { timeout: 45_000 }, async (t) => {
    const script = trappingScript({ INT: 'echo got-INT', HUP: 'echo got-HUP', QUIT: 'echo got-QUIT', USR2: 'echo got-USR2', TERM: 'echo got-TERM; exit 5' });
    const e = await startExec({ payload: PAYLOAD, args: ['--', 'sh', '-c', script] });
    t.after(() => e.close());
    await e.output('ready');
    for (const sig of ['SIGUSR2', 'SIGHUP', 'SIGINT', 'SIGQUIT'] as const) {
      e.proc.child.kill(sig);
      await e.output(`got-${sig.slice(3)}`);
    }
    // Still running: only the command decides when it ends.
    assert.equal(e.proc.child.exitCode, null);
    e.proc.child.kill('SIGTERM');
    assert.equal(await e.proc.exited(20_000), 5, e.proc.output);
    assert.ok(e.proc.stdout.includes('got-TERM'));
  });

  it('a first load that fails never starts the command: exit 1 with the hint', { timeout: 45_000 }, async (t) => {
    const e = await startExec({ payload: PAYLOAD, args: ['--', 'sh', '-c', 'echo STARTED'], source: '/nonexistent/clef-agent-exec-test.json' });
    t.after(() => e.close());
    assert.equal(await e.proc.exited(30_000), 1, e.proc.output);
    assert.match(e.proc.stderr, /could not load the artifact from .* after 3 attempts: .*Hint: /);
    assert.match(e.proc.stderr, /the command was not started/);
    assert.ok(!e.proc.stdout.includes('STARTED'));
    assert.ok(!e.proc.logs().some((l) => l.event === 'exec.child_started'));
  });

  it('a first load that fails still exports its fetch.failed events (telemetry) before exec exits', { timeout: 45_000 }, async (t) => {
    const collector = await new OtlpCollector().start();
    t.after(() => collector.close());
    const e = await startExec({
      payload: PAYLOAD,
      args: ['--', 'sh', '-c', 'echo STARTED'],
      source: '/nonexistent/clef-agent-exec-test.json',
      env: { CLEF_AGENT_TELEMETRY_URL: `${collector.endpoint}/v1/logs` },
    });
    t.after(() => e.close());
    assert.equal(await e.proc.exited(30_000), 1, e.proc.output);
    const failed = collector.records().filter((r) => r.eventName === 'fetch.failed');
    assert.equal(
      failed.length,
      3,
      `one per start-up attempt: ${collector
        .records()
        .map((r) => r.eventName)
        .join(', ')}`,
    );
  });

  it('without --serve there is no HTTP listener; with --serve the API answers with the same token', { timeout: 45_000 }, async (t) => {
    const quiet = await startExec({ payload: PAYLOAD, args: ['--', 'sh', '-c', 'echo ready; exec sleep 30'] });
    const served = await startExec({ payload: PAYLOAD, args: ['--serve', '--', 'sh', '-c', 'echo ready; exec sleep 30'] });
    t.after(() => Promise.all([quiet.close(), served.close()]));
    await Promise.all([quiet.output('ready'), served.output('ready')]);
    assert.ok(!quiet.proc.logs().some((l) => l.event === 'listening'));
    await served.proc.listening();
    const r = await served.proc.request('/v1/secrets/app__API_KEY');
    assert.equal(r.status, 200, r.body);
    assert.deepEqual(r.json(), { key: 'app__API_KEY', value: 'app-key-value' });
    assert.equal((await served.proc.request('/v1/secrets', { token: 'wrong-token' })).status, 401);
  });
});
