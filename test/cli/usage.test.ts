/**
 * SPEC §9 command line, through the built CLI (dist/src/main.js): `--help`/`-h` on every command
 * and `--version` print to stdout and exit 0; an unknown command or flag prints the usage to
 * stderr and exits 2. None of these loads the agent, so they run with an empty environment.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { MAIN, runNode, type RunResult } from '../kit/index.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

function cli(args: readonly string[]): Promise<RunResult> {
  return runNode(MAIN, args, { timeoutMs: 15_000 });
}

/** Each command, the arguments that select it, and how its usage starts. */
const COMMANDS = [
  { name: 'clef-agent', args: [], usage: /^Usage: clef-agent \[command\] \[options\]\n/ },
  { name: 'serve', args: ['serve'], usage: /^Usage: clef-agent \[serve\]\n/ },
  { name: 'exec', args: ['exec'], usage: /^Usage: clef-agent exec \[options\] -- <command> \[args\.\.\.\]\n/ },
  { name: 'check', args: ['check'], usage: /^Usage: clef-agent check \[--ready \| --health\] \[--port N \| --socket PATH\]\n/ },
  { name: 'pack', args: ['pack'], usage: /^Usage: clef-agent pack --payload/ },
  { name: 'loadtest', args: ['loadtest'], usage: /^Usage: clef-agent loadtest --url URL/ },
] as const;

describe('clef-agent --help, --version and usage errors', { concurrency: true, timeout: 60_000 }, () => {
  it('--version prints the package version and exits 0', async () => {
    for (const args of [['--version'], ['version']]) {
      const r = await cli(args);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `${VERSION}\n`);
      assert.equal(r.stderr, '');
    }
  });

  for (const c of COMMANDS) {
    it(`${c.name}: --help and -h print the usage on stdout, with the README pointer, and exit 0`, async () => {
      for (const flag of ['--help', '-h']) {
        const r = await cli([...c.args, flag]);
        assert.equal(r.code, 0, `${flag}: ${r.stderr}`);
        assert.match(r.stdout, c.usage);
        assert.match(r.stdout, /README\.md/);
        assert.match(r.stdout, /-h, --help/);
        assert.equal(r.stderr, '');
      }
    });

    it(`${c.name}: an unknown flag prints the usage on stderr and exits 2`, async () => {
      const r = await cli([...c.args, '--no-such-flag=hunter2']);
      assert.equal(r.code, 2, r.stderr);
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /unknown (flag|option)/i);
      assert.match(r.stderr, /--no-such-flag/);
      assert.ok(!r.stderr.includes('hunter2'), "a flag's value is not echoed");
      assert.match(r.stderr, /Usage: clef-agent/);
    });
  }

  it('the top-level help lists every command', async () => {
    const r = await cli(['--help']);
    for (const command of ['serve', 'exec', 'check', 'pack', 'loadtest', '--version']) assert.match(r.stdout, new RegExp(`^  ${command}\\b`, 'm'));
  });

  it('an unknown command prints the usage on stderr and exits 2', async () => {
    const r = await cli(['deploy']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^clef-agent: unknown command "deploy"\n\nUsage: clef-agent \[command\]/);
  });

  it('exec: a bad flag or a missing command is exit 2 before any configuration is read, naming what is accepted', async () => {
    for (const [args, message] of [
      [['exec', '--grace', 'soon', '--', 'sh'], '--grace: expected whole seconds, 0-3600'],
      [['exec', 'sh', '-c', 'true'], 'the command goes after "--"'],
      [['exec', '--'], 'no command after "--"'],
    ] as const) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.ok(r.stderr.startsWith(`clef-agent exec: ${message}`), r.stderr);
      assert.doesNotMatch(r.stderr, /invalid configuration:/);
      assert.match(r.stderr, /Usage: clef-agent exec/);
    }
  });

  it('serve takes no argument but --help: anything else is exit 2 before any configuration is read', async () => {
    for (const args of [
      ['serve', 'extra'],
      ['serve', '--help', 'extra'],
      ['serve', '--port', '7779'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.stderr, /^clef-agent serve: (unknown flag|unexpected argument)/);
      assert.doesNotMatch(r.stderr, /invalid configuration:/);
      assert.match(r.stderr, /Usage: clef-agent \[serve\]/);
    }
  });
});
