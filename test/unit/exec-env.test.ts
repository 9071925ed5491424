/**
 * src/exec/env.ts, args.ts and restart-limit.ts: the naming rules for the child's variables, the
 * exec flags (messages name the flag, never a value), and the restart rate limit.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseExecArgs, type ExecOptions } from '../../src/exec/args.js';
import { childEnvironment, ExecEnvError, inheritedEnvironment, type EnvNaming } from '../../src/exec/env.js';
import { RESTART_FIRST_DELAY_MS, RESTART_MAX_DELAY_MS, RESTART_STABLE_MS, RestartLimiter } from '../../src/exec/restart-limit.js';

const NESTED = JSON.stringify({ app: { API_KEY: 'a-key', 'DB-URL': 'pg://a' }, pay: { API_KEY: 'p-key', 'stripe.key': 's' } });
const DEFAULT: EnvNaming = { prefix: '', namespaces: [], qualify: true, override: false };
const NONE = new Map<string, string>();

function secretsOf(payload: string, naming: Partial<EnvNaming> = {}, inherited = NONE): Record<string, string> {
  return { ...childEnvironment(Buffer.from(payload), { ...DEFAULT, ...naming }, inherited) };
}

function refused(fn: () => unknown, code: string, ...parts: string[]): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ExecEnvError, String(err));
    assert.equal(err.code, code);
    for (const p of parts) assert.ok(err.message.includes(p), `${err.message} should name ${p}`);
    // Never a value.
    for (const v of ['a-key', 'p-key', 'pg://a', 'preset-value']) assert.ok(!err.message.includes(v), err.message);
    return true;
  });
}

describe('exec: the child environment', () => {
  test('escaped names are decoded as the workers decode them (not by JSON.parse, whose V8 escaped-key defect can rename a key)', () => {
    const env = secretsOf('{"app":{"API\\u005fKEY":"v1","\\u0044B":"v2"}}');
    assert.deepEqual(env, { app__API_KEY: 'v1', app__DB: 'v2' });
  });

  test('qualified ns__KEY names by default; characters outside [A-Za-z0-9_] become _', () => {
    assert.deepEqual(secretsOf(NESTED), { app__API_KEY: 'a-key', app__DB_URL: 'pg://a', pay__API_KEY: 'p-key', pay__stripe_key: 's' });
  });

  test('--env-prefix, --namespace (repeatable, deduplicated) and --no-qualify', () => {
    assert.deepEqual(secretsOf(NESTED, { prefix: 'APP_', namespaces: ['app'], qualify: false }), { APP_API_KEY: 'a-key', APP_DB_URL: 'pg://a' });
    assert.deepEqual(Object.keys(secretsOf(NESTED, { namespaces: ['pay', 'pay'] })).sort(), ['pay__API_KEY', 'pay__stripe_key']);
  });

  test('flat payloads use the key itself', () => {
    assert.deepEqual(secretsOf(JSON.stringify({ 'my-key': 'v', OTHER: 'w' }), { prefix: 'X_' }), { X_my_key: 'v', X_OTHER: 'w' });
    refused(() => secretsOf(JSON.stringify({ K: 'v' }), { namespaces: ['app'] }), 'namespace_on_flat', '--namespace');
  });

  test('--no-qualify: a key in two namespaces is an error naming both', () => {
    refused(() => secretsOf(NESTED, { qualify: false }), 'ambiguous_key', 'app__API_KEY', 'pay__API_KEY', '--namespace');
  });

  test('two names mapping to one variable is an error naming both keys', () => {
    refused(() => secretsOf(JSON.stringify({ app: { 'A-B': 'a-key', A_B: 'p-key' } })), 'name_collision', 'app/A-B', 'app/A_B', 'app__A_B');
    // ns__KEY can collide across the namespace boundary too.
    refused(() => secretsOf(JSON.stringify({ a__b: { c: 'a-key' }, a: { b__c: 'p-key' } })), 'name_collision', 'a__b/c', 'a/b__c');
  });

  test('an unknown --namespace names the ones the artifact has', () => {
    refused(() => secretsOf(NESTED, { namespaces: ['nope'] }), 'unknown_namespace', '"nope"', '"app"', '"pay"');
  });

  test('an inherited variable of the same name is an error unless --override', () => {
    const inherited = new Map([
      ['app__API_KEY', 'preset-value'],
      ['HOME', '/root'],
    ]);
    refused(() => secretsOf(NESTED, {}, inherited), 'variable_exists', 'app__API_KEY', '--override');
    const env = secretsOf(NESTED, { override: true }, inherited);
    assert.equal(env['app__API_KEY'], 'a-key');
    assert.equal(env['HOME'], '/root');
  });

  test('a NUL in a value or an empty name is refused', () => {
    refused(() => secretsOf(JSON.stringify({ app: { K: 'a\u0000b' } })), 'invalid_value', 'app/K');
    refused(() => secretsOf(JSON.stringify({ '': 'v' })), 'invalid_name', '--env-prefix');
  });

  test('every CLEF_AGENT_* variable is dropped from the inherited environment', () => {
    const env = inheritedEnvironment({ CLEF_AGENT_TOKEN: 't', CLEF_AGENT_AGE_KEY: 'k', CLEF_AGENT_ANYTHING: 'x', PATH: '/bin', CLEF_AGENTX: 'kept' });
    assert.deepEqual([...env.keys()].sort(), ['CLEF_AGENTX', 'PATH']);
  });
});

describe('exec: flags', () => {
  const run = (argv: string[]): ExecOptions => {
    const p = parseExecArgs(argv);
    if (p.kind !== 'run') assert.fail(JSON.stringify(p));
    return p.options;
  };
  const error = (argv: string[], expected: string): void => {
    const p = parseExecArgs(argv);
    assert.equal(p.kind, 'error');
    assert.equal((p as { message: string }).message, expected);
  };

  test('defaults, and everything after -- is the command, flags included', () => {
    const o = run(['--', 'sh', '-c', 'echo --serve']);
    assert.equal(o.command, 'sh');
    assert.deepEqual(o.args, ['-c', 'echo --serve']);
    assert.deepEqual(o.onChange, { kind: 'none' });
    assert.equal(o.graceSeconds, 10);
    assert.equal(o.serve, false);
    assert.equal(o.qualify, true);
  });

  test('every option', () => {
    const o = run([
      '--restart-on-change',
      '--restart-signal',
      'hup',
      '--grace=3',
      '--restart-on-exit',
      '--env-prefix',
      'APP_',
      '--namespace',
      'a',
      '--namespace',
      'b',
      '--no-qualify',
      '--override',
      '--keep-on-revoke',
      '--serve',
      '--',
      'app',
    ]);
    assert.deepEqual(o.onChange, { kind: 'restart', signal: 'SIGHUP' });
    assert.deepEqual(o.namespaces, ['a', 'b']);
    assert.equal(o.graceSeconds, 3);
    assert.equal(o.envPrefix, 'APP_');
    assert.ok(o.restartOnExit && o.override && o.keepOnRevoke && o.serve && !o.qualify);
    assert.deepEqual(run(['--signal-on-change', 'SIGUSR1', '--', 'x']).onChange, { kind: 'signal', signal: 'SIGUSR1' });
  });

  test('help, and the errors name the flag and what it accepts, never a value', () => {
    assert.equal(parseExecArgs(['-h']).kind, 'help');
    error(['sh'], 'the command goes after "--": clef-agent exec [options] -- <command> [args...]');
    error(['--'], 'no command after "--"');
    error(['--tokn=s3cret-value', '--', 'x'], 'unknown flag "--tokn"');
    error(['--grace', '1.5', '--', 'x'], '--grace: expected whole seconds, 0-3600');
    error(['--env-prefix', '1-bad', '--', 'x'], '--env-prefix: expected letters, digits and "_", not starting with a digit (e.g. APP_)');
    error(
      ['--signal-on-change', 'KILL', '--', 'x'],
      '--signal-on-change: expected one of SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH (the SIG prefix is optional)',
    );
    error(['--restart-on-change', '--signal-on-change', 'HUP', '--', 'x'], '--restart-on-change and --signal-on-change are exclusive: choose one');
    error(['--restart-signal', 'HUP', '--', 'x'], '--restart-signal needs --restart-on-change');
    error(['stray', '--', 'x'], 'unexpected argument before "--" (the command goes after "--")');
  });
});

describe('exec: restart rate limit', () => {
  test('doubles from the first delay while children die young, and resets once one lived long', () => {
    const l = new RestartLimiter();
    assert.equal(l.nextDelayMs(0), 0);
    l.started(0);
    assert.equal(l.nextDelayMs(100), RESTART_FIRST_DELAY_MS - 100);
    l.started(1000);
    assert.equal(l.nextDelayMs(1000), 2 * RESTART_FIRST_DELAY_MS);
    let t = 1000;
    for (let i = 0; i < 10; i++) {
      l.started(t);
      l.nextDelayMs(t);
    }
    l.started(t);
    assert.equal(l.nextDelayMs(t), RESTART_MAX_DELAY_MS);
    t += RESTART_STABLE_MS;
    assert.equal(l.nextDelayMs(t), 0);
  });
});
