/**
 * `clef-agent exec` in a terminal (src/exec/terminal.ts): Ctrl-C reaches the command once. The
 * terminal sends SIGINT to its whole foreground process group, the command included, so exec must
 * not forward it a second time (many programs read a second Ctrl-C as "quit now"). The terminal is a
 * real pseudo-terminal from util-linux's `script` (Debian's essential bsdutils), whose input is this
 * test's pipe: writing ^C to it is pressing Ctrl-C. Forwarding without a terminal is
 * exec-process.test.ts.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ageKeyPair, artifactJson } from '../helpers/artifacts.js';
import { agentCommand, TempDirs, waitUntil } from '../kit/index.js';

const dirs = new TempDirs('clef-exec-terminal-');
after(() => dirs.removeAll());

/** Counts its SIGINTs; one second after the first, prints the count and exits 0. */
const COUNTING_CHILD = `let n = 0; process.on('SIGINT', () => { n++; console.log('got-INT ' + n); if (n === 1) setTimeout(() => { console.log('total-INT ' + n); process.exit(0); }, 1000); }); console.log('child-ready'); setInterval(() => undefined, 1000);`;

const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

describe('exec in a terminal', { timeout: 60_000 }, () => {
  it('Ctrl-C reaches the command once: the terminal sends it, exec does not forward it again (exec.signal_not_forwarded)', async () => {
    assert.equal(spawnSync('script', ['--version']).status, 0, "util-linux's script is missing: install the Debian package bsdutils");
    const key = await ageKeyPair();
    const source = join(dirs.make(), 'artifact.json');
    writeFileSync(source, await artifactJson({ recipient: key.recipient, payload: { app: { API_KEY: 'terminal-value' } } }));
    const [command, argv] = agentCommand(['exec', '--', process.execPath, '-e', COUNTING_CHILD]);
    const env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      CLEF_AGENT_SOURCE: source,
      CLEF_AGENT_AGE_KEY: key.identity,
      CLEF_AGENT_TOKEN: 'exec-terminal-token-0123456789abcdef',
      CLEF_AGENT_WORKERS: '1',
      CLEF_AGENT_LOG_LEVEL: 'debug',
    };
    // -q quiet, -f flush, -e the command's exit status, -c the command (run by a shell, which `exec`
    // replaces: a shell left waiting would get the Ctrl-C too); no typescript file.
    const line = `exec ${[command, ...argv].map(quote).join(' ')}`;
    const term = spawn('script', ['-qfec', line, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    term.stdout.setEncoding('utf8').on('data', (d: string) => (screen += d));
    term.stderr.setEncoding('utf8').on('data', (d: string) => (screen += d));
    const exited = new Promise<number | null>((resolve) => term.once('exit', (code) => resolve(code)));
    try {
      await waitUntil(
        () => screen.includes('child-ready') || (term.exitCode !== null ? Promise.reject(new Error(screen)) : undefined),
        30_000,
        'the command started',
      );
      term.stdin.write('\x03');
      const total = await waitUntil(() => /total-INT (\d+)/.exec(screen)?.[1], 20_000, 'the command counted its SIGINTs');
      assert.equal(total, '1', `the command got SIGINT ${total} times:\n${screen}`);
      assert.equal(await exited, 0, screen);
      // The terminal echoes ^C in front of whatever comes next, a log line included.
      const logs = screen
        .split(/\r?\n/)
        .map((l) => l.replace(/^\^C/, ''))
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { event?: string; signal?: string });
      assert.ok(
        logs.some((l) => l.event === 'exec.signal_not_forwarded' && l.signal === 'SIGINT'),
        screen,
      );
      assert.ok(!logs.some((l) => l.event === 'exec.signal_forwarded' && l.signal === 'SIGINT'), screen);
    } finally {
      if (term.exitCode === null) term.kill('SIGKILL');
    }
  });
});
