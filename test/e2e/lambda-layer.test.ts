/**
 * The Lambda layer (SPEC §6, `npm run build:lambda-layer`): its zip's layout and executable bits as
 * the reference `unzip` reads them, and the extension started from the unpacked layer — the way
 * Lambda starts `/opt/extensions/clef-agent` — with a clean PATH, outside the repository (no
 * node_modules above it), against the Extensions API emulator: it registers only after the
 * artifact is loaded, serves the function, refreshes on INVOKE once due, and exits within the
 * SHUTDOWN deadline.
 *
 * The suite packs the Node build (fast); the binary leg (CLEF_AGENT_TEST_BINARY) packs that
 * binary, and then PATH holds no node at all.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { before, describe, it } from 'node:test';
import { BINARY, runCommand, sleep, suiteTempDirs } from '../kit/index.js';
import { startExtension } from '../helpers/lambda.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const dirs = suiteTempDirs('clef-layer-');
/** For the build and `unzip` (the reference reader; .ci/run installs it), not for the extension. */
const HOST_ENV = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };

describe('§6 Lambda layer', () => {
  let out = '';
  let opt = '';
  before(async () => {
    out = dirs.make();
    const r = await runCommand(
      process.execPath,
      [join(ROOT, 'scripts', 'build-lambda-layer.mjs'), ...(BINARY === undefined ? ['--node'] : ['--binary', BINARY]), '--out', out],
      {
        timeoutMs: 120_000,
        env: HOST_ENV,
      },
    );
    assert.equal(r.code, 0, r.stdout + r.stderr);
    opt = join(dirs.make(), 'opt');
    mkdirSync(opt);
    const unzip = await runCommand('unzip', ['-q', join(out, 'clef-agent-layer.zip'), '-d', opt], { env: HOST_ENV });
    assert.equal(unzip.code, 0, unzip.stdout + unzip.stderr);
  });

  it('the zip holds extensions/clef-agent and the agent, executables with mode 0755', async () => {
    const r = await runCommand('unzip', ['-Z', join(out, 'clef-agent-layer.zip')], { env: HOST_ENV });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const modes = new Map(
      r.stdout
        .split('\n')
        .filter((l) => /^[-d][rwx-]{9} /.test(l))
        .map((l) => {
          const parts = l.trim().split(/\s+/);
          return [parts[parts.length - 1] ?? '', parts[0] ?? ''] as const;
        }),
    );
    assert.equal(modes.get('extensions/clef-agent'), '-rwxr-xr-x');
    assert.equal(modes.get('extensions/'), 'drwxr-xr-x');
    if (BINARY === undefined) {
      assert.ok(modes.has('clef-agent/dist/src/main.js'));
      assert.equal(modes.get('clef-agent/package.json'), '-rw-r--r--');
      assert.ok(modes.has('clef-agent/dist/workers/index.js'));
      // Every dependency is in the bundle (piscina's worker wrapper in the worker entry): no node_modules.
      assert.ok(![...modes.keys()].some((n) => n.includes('node_modules')), 'no node_modules in the layer');
      assert.ok(![...modes.keys()].some((n) => n.endsWith('.map') || n.endsWith('.ts')), 'no source maps or sources');
    } else {
      assert.equal(modes.get('clef-agent/clef-agent'), '-rwxr-xr-x');
      assert.deepEqual([...modes.keys()].sort(), ['clef-agent/', 'clef-agent/clef-agent', 'extensions/', 'extensions/clef-agent']);
    }
    // Every top-level entry is one Lambda expects under /opt.
    assert.deepEqual(readdirSync(opt).sort(), ['clef-agent', 'extensions']);
  });

  it(
    'started from the unpacked layer with a clean PATH: registers after the load, serves, refreshes on INVOKE, exits within the SHUTDOWN deadline',
    { timeout: 60_000 },
    async (t) => {
      for (let d = opt; d !== dirname(d); d = dirname(d)) assert.ok(!existsSync(join(d, 'node_modules')), `no node_modules above the layer (${d})`);
      // PATH: an empty directory for the binary (no node anywhere), or one holding only `node`, as a
      // nodejs runtime's /var/lang/bin does, for the Node build.
      const bin = dirs.make();
      if (BINARY === undefined) symlinkSync(process.execPath, join(bin, 'node'));
      const x = await startExtension(t, {
        env: { CLEF_AGENT_CACHE_TTL: '30', CLEF_AGENT_POLL_INTERVAL: '5' },
        fullEnv: ({ CLEF_AGENT_LAMBDA_EXTENSION_NAME: _set, ...env }) => ({ ...env, PATH: bin }),
        launch: { binary: join(opt, 'extensions', 'clef-agent'), cwd: opt },
      });
      await x.agent.listening();
      await x.api.parkedInNext(30_000);
      assert.equal(x.api.registration?.name, 'clef-agent', 'the launcher sends its own file name');
      // The log line may still be in the pipe when the emulator sees the call.
      await x.agent.waitForLog((l) => l.event === 'lambda.registered');
      const logs = x.agent.logs();
      assert.ok(
        logs.findIndex((l) => l.event === 'artifact.refreshed') < logs.findIndex((l) => l.event === 'lambda.registered'),
        'registered after the first load',
      );
      const first = await x.agent.request('/v1/secrets');
      assert.equal(first.status, 200, first.body);
      assert.deepEqual(first.json(), { app: { API_KEY: 'first-value' } });

      x.server.body = await x.artifact({ app: { API_KEY: 'rotated-value' } });
      await x.api.freeze(x.agent.child.pid ?? 0);
      await sleep(5_300);
      x.api.thaw();
      await x.api.invoke();
      assert.deepEqual((await x.agent.request('/v1/secrets')).json(), { app: { API_KEY: 'rotated-value' } });

      const deadline = x.api.shutdown(3_000); // Lambda gives external extensions 2 s; 3 s leaves a loaded CI machine room
      assert.equal(await x.agent.exited(10_000), 0, x.agent.output.slice(-2000));
      assert.ok((await x.exitAt) < deadline, 'exited before the SHUTDOWN deadline');
      assert.deepEqual(x.api.violations, []);
    },
  );
});
