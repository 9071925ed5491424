/**
 * SPEC §9 standalone binary: the executable alone, copied into an empty directory with no
 * node_modules anywhere up the tree, prints its version, packs an artifact, serves it, answers its
 * own `check` probe, takes no Node options from the environment, and leaves nothing in its temp
 * directory after SIGTERM.
 *
 * Runs in the binary leg only: scripts/run-tests.mjs collects test/binary only when
 * CLEF_AGENT_TEST_BINARY is set (`npm run test:binary` sets it); the normal leg has no binary.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import { copyFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { before, describe, it } from 'node:test';
import { AgentProcess, BINARY, listeningSockets, sleep, suiteTempDirs, tryConnect } from '../kit/index.js';
import { ageKeyPair, samplePayload, type AgeKeyPair } from '../helpers/artifacts.js';

const PACKAGE = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
const TOKEN = 'b'.repeat(64);

describe('§9 standalone binary', { timeout: 120_000 }, () => {
  const dirs = suiteTempDirs('clef-binary-');
  let dir = '';
  let exe = '';
  let keys: AgeKeyPair;

  /** Runs the copied binary to its end from the empty directory, with nothing but PATH. */
  function run(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
    const r = spawnSync(exe, args, { cwd: dir, env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' }, encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  before(async () => {
    assert.ok(BINARY !== undefined, 'set CLEF_AGENT_TEST_BINARY to the binary (npm run test:binary does)');
    dir = dirs.make();
    exe = join(dir, 'clef-agent');
    copyFileSync(BINARY ?? '', exe);
    for (let d = dir; ; d = dirname(d)) {
      assert.ok(!existsSync(join(d, 'node_modules')), `${d} has a node_modules: the test needs a tree without one`);
      if (dirname(d) === d) break;
    }
    keys = await ageKeyPair();
  });

  it('no SIGUSR1 opens an inspector, even in a subcommand with no handler of its own (SEA execArgv --disable-sigusr1)', async () => {
    // `check` against a server that accepts and never answers: it waits its 1 s timeout, time for the signal.
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const port = (silent.address() as net.AddressInfo).port;
      const child = spawn(exe, ['check', '--port', String(port)], {
        cwd: dir,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await sleep(400);
      child.kill('SIGUSR1');
      // The signal changes nothing: the probe times out as it would have (exit 1).
      assert.equal(await exited, 1, stderr);
      assert.match(stderr, /no answer within 1000 ms/);
      assert.ok(!stderr.includes('Debugger listening') && !stderr.includes('Starting inspector'), stderr);
      assert.notEqual(await tryConnect('127.0.0.1', 9229), 'connected', 'no inspector on the default port');
    } finally {
      silent.close();
    }
  });

  it('--version prints the package version and exits 0', () => {
    const r = run(['--version']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), PACKAGE.version);
  });

  it('pack writes an artifact, and the binary serves it; nothing is left in its temp dir after SIGTERM', async () => {
    writeFileSync(join(dir, 'payload.json'), JSON.stringify(samplePayload('BIN')));
    const packed = run([
      'pack',
      '--payload',
      'payload.json',
      '--recipient',
      keys.recipient,
      '--identity',
      'svc',
      '--environment',
      'test',
      '--out',
      'artifact.json',
    ]);
    assert.equal(packed.code, 0, packed.stderr);
    assert.ok(statSync(join(dir, 'artifact.json')).size > 0);

    const tmp = dirs.make();
    const agent = new AgentProcess(
      {
        CLEF_AGENT_SOURCE: join(dir, 'artifact.json'),
        CLEF_AGENT_AGE_KEY: keys.identity,
        CLEF_AGENT_TOKEN: TOKEN,
        CLEF_AGENT_WORKERS: '2',
        TMPDIR: tmp,
        // Ignored by the binary (SEA execArgvExtension "none"): node would fail on the --require.
        NODE_OPTIONS: '--require=/nonexistent/clef-agent-probe.js --inspect=127.0.0.1:0',
      },
      { binary: exe, cwd: dir },
    );
    try {
      await agent.ready();
      assert.deepEqual((await agent.request('/v1/secrets')).json(), samplePayload('BIN'));
      // The probe an image's HEALTHCHECK runs, from the binary itself.
      const probe = run(['check', '--port', String(agent.port)]);
      assert.equal(probe.code, 0, probe.stderr);
      assert.ok(!agent.stderr.includes('Debugger listening'), agent.stderr);
      assert.deepEqual(
        listeningSockets(agent.child.pid ?? 0).map((s) => s.port),
        [agent.port],
        'only the secrets port listens (no inspector)',
      );
      // The worker code, written once into a private directory.
      const made = readdirSync(tmp);
      assert.equal(made.length, 1, made.join(', '));
      assert.match(made[0] ?? '', /^clef-agent-/);
      assert.equal(statSync(join(tmp, made[0] ?? '')).mode & 0o777, 0o700);
      // ES module chunks (scripts/worker-bundle.mjs): the entry, and what it loads on demand.
      const chunks = readdirSync(join(tmp, made[0] ?? ''));
      assert.ok(chunks.includes('index.mjs'), chunks.join(', '));
      for (const c of chunks) {
        assert.match(c, /^[\w-][\w.-]*\.mjs$/);
        assert.equal(statSync(join(tmp, made[0] ?? '', c)).mode & 0o777, 0o400, c);
      }
      // piscina's worker wrapper is in the worker code, its pool is not (workers/movable.ts).
      const workerCode = chunks.map((c) => readFileSync(join(tmp, made[0] ?? '', c), 'utf8')).join('\n');
      assert.ok(workerCode.includes('Piscina.kMovable'), "piscina's worker side is bundled");
      assert.ok(!/"(Piscina|ThreadPool|ArrayTaskQueue)"/.test(workerCode), "piscina's pool is not loaded by the workers");
    } finally {
      const code = await agent.stop({ signal: 'SIGTERM' });
      assert.equal(code, 0, agent.output);
    }
    assert.deepEqual(readdirSync(tmp), [], 'the temp directory is removed at exit');
    const gone = run(['check', '--port', String(agent.port)]);
    assert.equal(gone.code, 1, 'check fails once the agent is gone');
    assert.match(gone.stderr, /connection refused/);
    assert.deepEqual(readdirSync(dir).sort(), ['artifact.json', 'clef-agent', 'payload.json'], 'nothing written next to the binary');
  });
});
