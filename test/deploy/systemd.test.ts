/**
 * deploy/systemd/clef-agent.service (SPEC §9): `systemd-analyze verify` accepts it with no warning
 * (an unknown or misspelt directive is only a warning there, so any output fails the test),
 * `systemd-analyze security --offline` rates its sandbox, and the directives the deployment relies
 * on are read one by one. verify refuses a unit whose ExecStart binary does not exist, so it runs
 * on a copy whose ExecStart points at an executable stub this test creates; nothing else changes.
 * Needs systemd-analyze (Debian package `systemd`); no running systemd is needed.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KNOWN_VARIABLES } from '../../src/config/variables.js';
import { suiteTempDirs } from '../kit/index.js';
import { REPO } from './image-build.js';

const UNIT = 'clef-agent.service';
const text = readFileSync(join(REPO, 'deploy', 'systemd', UNIT), 'utf8');

/** `[Section] Key=value` lines; a key may repeat (Environment=, LoadCredential=, …). */
function directives(unit: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let section = '';
  for (const raw of unit.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = s[1]!;
      continue;
    }
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `not a directive: ${line}`);
    const key = `${section}.${line.slice(0, eq)}`;
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}
const d = directives(text);
const one = (key: string): string | undefined => d.get(`Service.${key}`)?.at(-1);

/** The shipped src/ and common/ source: whether the agent speaks sd_notify decides Type=. */
function sourceMentions(needle: string): boolean {
  const walk = (dir: string): boolean =>
    readdirSync(dir).some((n) => {
      const p = join(dir, n);
      return statSync(p).isDirectory() ? walk(p) : n.endsWith('.ts') && readFileSync(p, 'utf8').includes(needle);
    });
  return ['src', 'common', 'workers'].some((dir) => walk(join(REPO, dir)));
}

const hasAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;
const NO_ANALYZE = 'systemd-analyze is missing: install the Debian package `systemd` (.ci/run does)';

describe('systemd unit', () => {
  const dirs = suiteTempDirs('clef-systemd-');

  /** A copy of the unit whose ExecStart binary is an executable stub in a temp dir. */
  function copyWithStub(): string {
    const dir = dirs.make();
    const stub = join(dir, 'clef-agent');
    writeFileSync(stub, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const exec = one('ExecStart')!;
    const copy = join(dir, UNIT);
    writeFileSync(copy, text.replace(`ExecStart=${exec}`, `ExecStart=${stub} ${exec.split(' ').slice(1).join(' ')}`.trimEnd()));
    return copy;
  }

  it('systemd-analyze verify accepts it without a warning', () => {
    assert.ok(hasAnalyze, NO_ANALYZE);
    const r = spawnSync('systemd-analyze', ['verify', '--man=no', copyWithStub()], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'verify printed warnings');
  });

  it('systemd-analyze security rates the sandbox 2.0 or better (0 = fully sandboxed, 10 = exposed)', () => {
    assert.ok(hasAnalyze, NO_ANALYZE);
    const r = spawnSync('systemd-analyze', ['security', '--offline=true', '--no-pager', copyWithStub()], { encoding: 'utf8', timeout: 60_000 });
    const m = /Overall exposure level for \S+: (\d+(?:\.\d+)?)/.exec(r.stdout);
    assert.ok(m, r.stdout + r.stderr);
    assert.ok(Number(m[1]) <= 2, `exposure ${m[1]}`);
  });

  it('runs the agent as a transient user with the required hardening', () => {
    assert.match(one('ExecStart') ?? '', /^\/\S+\/clef-agent serve$/);
    const expected: Record<string, string> = {
      DynamicUser: 'yes',
      NoNewPrivileges: 'yes',
      CapabilityBoundingSet: '',
      ProtectSystem: 'strict',
      ProtectHome: 'yes',
      PrivateTmp: 'yes',
      RestrictAddressFamilies: 'AF_INET AF_INET6 AF_UNIX',
      KillSignal: 'SIGTERM',
    };
    for (const [k, v] of Object.entries(expected)) assert.equal(one(k), v, k);
    assert.notEqual(one('MemoryDenyWriteExecute'), 'yes', "V8's JIT needs writable+executable memory");
    assert.ok(Number(one('TimeoutStopSec')) > 15, "longer than the agent's own 15 s stop bound");
  });

  it('systemctl reload sends the agent SIGHUP, its reload signal (README "Reload")', () => {
    assert.equal(one('ExecReload'), '/bin/kill -HUP $MAINPID');
  });

  it('Type= matches how the agent signals readiness (exec: it does not speak sd_notify)', () => {
    assert.equal(one('Type'), sourceMentions('NOTIFY_SOCKET') ? 'notify' : 'exec');
  });

  it('the age key and the token come in as credentials (LoadCredential=, read from %d)', () => {
    const creds = new Map((d.get('Service.LoadCredential') ?? []).map((c) => c.split(':') as [string, string]));
    assert.ok(creds.get('age-key')?.startsWith('/'), 'age-key credential');
    assert.ok(creds.get('token')?.startsWith('/'), 'token credential');
    const env = new Map((d.get('Service.Environment') ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
    assert.equal(env.get('CLEF_AGENT_AGE_KEY_FILE'), '%d/age-key');
    assert.equal(env.get('CLEF_AGENT_TOKEN_FILE'), '%d/token');
    assert.equal(env.get('CLEF_AGENT_AGE_KEY'), undefined, 'never the key inline in a unit file anyone can read');
    assert.equal(env.get('CLEF_AGENT_TOKEN'), undefined);
    for (const name of env.keys()) if (name.startsWith('CLEF_AGENT_')) assert.ok((KNOWN_VARIABLES as readonly string[]).includes(name), name);
  });
});
