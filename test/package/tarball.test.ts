/**
 * SPEC §9 npm: the published tarball works on its own. The shipped sources are copied to a temp
 * directory (so `prepack`'s production build does not wipe the test build in dist/), packed with
 * `npm pack` (which runs `prepack`), installed with `--omit=dev` into an empty directory, and run
 * from there: `--version`, `--help`, `pack` makes a signed artifact, the agent fetches it over HTTP
 * (the worker's HTTP stack is a chunk of the bundle loaded on first use) and serves it, and `check`
 * passes against it and fails once it is stopped. A file the package forgets to ship
 * fails here, not on a user's machine.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { makeAgeKey } from '../pack/helpers.js';
import { request, runCommand, suiteTempDirs, waitUntil, type RunResult } from '../kit/index.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
/** What `npm pack` needs to run `prepack` (the production build) in a copy of the checkout. */
const SOURCES = [
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'tsconfig.client.json',
  'README.md',
  'src',
  'workers',
  'common',
  'tools',
  'client',
  'scripts',
];
/** The production build: one bundle per thread (dist/src/main.js, dist/workers/index.js) and the chunks they load on demand. */
const SHIPPED = /^(package\.json|README\.md|dist\/(src|workers)\/[^/]+\.js|dist\/client\/[^/]+\.(js|d\.ts))$/;
const PAYLOAD = { app: { API_KEY: 'tarball-test-api-key', DATABASE_URL: 'postgres://u:tarball-db@localhost/app' } };
const TOKEN = 'ab12'.repeat(16);

/**
 * The suite's environment minus npm's lifecycle variables (when run under `npm test`), so the
 * nested npm reads its configuration as a user's npm would; PATH starts with the running node's
 * directory, so the installed bin's `#!/usr/bin/env node` runs the same node.
 */
function cleanEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v !== undefined && !(k.startsWith('npm_') && !/^npm_config_(cache|registry|userconfig)$/.test(k)) && !k.startsWith('CLEF_AGENT_')) env[k] = v;
  }
  env['PATH'] = `${dirname(process.execPath)}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;
  return { ...env, ...extra };
}

/** A command from `cwd`, with this test's clean environment unless another is given. */
function run(cmd: string, args: readonly string[], o: { cwd: string; env?: Record<string, string>; timeoutMs?: number }): Promise<RunResult> {
  return runCommand(cmd, args, { cwd: o.cwd, env: o.env ?? cleanEnv(), timeoutMs: o.timeoutMs });
}

/** Bytes of every file under `dir` (symlinks not followed): the installed size. */
function treeBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += treeBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

interface PackReport {
  readonly filename: string;
  readonly size: number;
  readonly unpackedSize: number;
  readonly files: readonly { readonly path: string }[];
}

describe('the npm tarball, installed with --omit=dev into an empty directory', { timeout: 300_000 }, () => {
  const dirs = suiteTempDirs('clef-tarball-');

  it('ships only the built code, installs, and runs: --version, --help, pack, serve, check', async (t) => {
    // 1. npm pack in a copy of the checkout; prepack builds dist/ there with tsconfig.build.json.
    const work = dirs.make();
    for (const name of SOURCES) cpSync(join(ROOT, name), join(work, name), { recursive: true });
    symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'), 'dir');
    const out = dirs.make();
    const packed = await run('npm', ['pack', '--json', '--pack-destination', out], { cwd: work, timeoutMs: 180_000 });
    assert.equal(packed.code, 0, packed.stderr);
    const [report] = JSON.parse(packed.stdout) as PackReport[];
    assert.ok(report);
    const paths = report.files.map((f) => f.path).sort();
    const unexpected = paths.filter((p) => !SHIPPED.test(p));
    assert.deepEqual(
      unexpected,
      [],
      'only package.json, README.md, the bundles in dist/src and dist/workers and the client in dist/client ship (no test/, bench/, emulators/, .map)',
    );
    // TypeScript sources never ship; the client's declaration files (.d.ts) do.
    assert.ok(!paths.some((p) => /(^|\/)(test|bench|emulators)\/|\.map$|(?<!\.d)\.ts$/.test(p)));
    for (const entry of ['dist/src/main.js', 'dist/workers/index.js', 'dist/client/index.js', 'dist/client/index.d.ts'])
      assert.ok(paths.includes(entry), `${entry} is in the tarball`);
    // Bundled: a few dozen files, not the hundreds of modules tsc emits (and node_modules resolves).
    assert.ok(paths.length < 80, `${paths.length} files in the tarball`);
    const tarball = join(out, report.filename);

    // 2. Install the tarball alone (plus its registry dependencies) into an empty directory.
    const app = dirs.make();
    const installed = await run('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: app, timeoutMs: 240_000 });
    assert.equal(installed.code, 0, installed.stderr);
    const bin = join(app, 'node_modules', '.bin', 'clef-agent');
    t.diagnostic(
      `tarball ${report.size} bytes (${report.unpackedSize} unpacked, ${paths.length} files); node_modules after install ${treeBytes(join(app, 'node_modules'))} bytes`,
    );

    // 3. The installed command: --version, --help.
    const version = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
    const v = await run(bin, ['--version'], { cwd: app });
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout, `${version}\n`);
    const help = await run(bin, ['--help'], { cwd: app });
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: clef-agent/);

    // 4. pack: a signed artifact from a payload file, for an age recipient.
    const keys = dirs.make();
    const age = await makeAgeKey(keys);
    const signKey = join(keys, 'sign.pem');
    writeFileSync(signKey, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const payloadFile = join(keys, 'payload.json');
    writeFileSync(payloadFile, JSON.stringify(PAYLOAD));
    const artifact = join(keys, 'artifact.json');
    const p = await run(
      bin,
      ['pack', '--payload', payloadFile, '--recipient', age.recipient, '--identity', 'api', '--environment', 'prod', '--sign-key', signKey, '--out', artifact],
      { cwd: app },
    );
    assert.equal(p.code, 0, p.stderr);
    const verifyKey = /^CLEF_AGENT_VERIFY_KEY=(\S+)\n$/.exec(p.stdout)?.[1];
    assert.ok(verifyKey, p.stdout);

    // 5. serve: the installed agent fetches the artifact over HTTP (signature checked) and serves it.
    const server = await new ArtifactServer().start();
    t.after(() => server.close());
    server.body = readFileSync(artifact, 'utf8');
    const agent = startInstalled(bin, app, {
      CLEF_AGENT_SOURCE: server.url(),
      CLEF_AGENT_AGE_KEY_FILE: age.keyFile,
      CLEF_AGENT_VERIFY_KEY: verifyKey,
      CLEF_AGENT_TOKEN: TOKEN,
      CLEF_AGENT_PORT: '0',
      CLEF_AGENT_WORKERS: '1',
    });
    let stopped = false;
    try {
      const port = await agent.port;
      await waitUntil(async () => (await request(port, '/v1/ready')).status === 200, 30_000, 'the installed agent ready', 100);
      const secrets = await request(port, '/v1/secrets', { token: TOKEN });
      assert.equal(secrets.status, 200);
      assert.deepEqual(secrets.json(), PAYLOAD);

      // The client, imported by package name from the installed package (its `./client` export),
      // reads the secrets; its types resolve for a TypeScript application (nodenext, strict).
      const script = join(app, 'use-client.mjs');
      writeFileSync(
        script,
        "import { createClient, ClefAgentError } from 'clef-agent/client';\n" +
          'const c = createClient({ url: `http://127.0.0.1:${process.argv[2]}`, token: process.argv[3] });\n' +
          'const denied = await createClient({ url: `http://127.0.0.1:${process.argv[2]}`, token: "x".repeat(64) }).keys().catch((e) => e);\n' +
          'console.log(JSON.stringify({ all: await c.getAll(), key: await c.get("app__API_KEY"), denied: denied instanceof ClefAgentError ? denied.reason : String(denied) }));\n',
      );
      const used = await run(process.execPath, [script, String(port), TOKEN], { cwd: app });
      assert.equal(used.code, 0, used.stderr);
      assert.deepEqual(JSON.parse(used.stdout), { all: PAYLOAD, key: PAYLOAD.app.API_KEY, denied: 'unauthorized' });
      const typed = join(app, 'typed.ts');
      writeFileSync(
        typed,
        "import { createClient, type ClefAgentClient, type Secrets } from 'clef-agent/client';\n" +
          'const c: ClefAgentClient = createClient({ socketPath: "/run/clef/agent.sock" });\n' +
          'export const all: Promise<Secrets> = c.getAll();\nexport const one: Promise<string> = c.get("k");\n',
      );
      const tsc = await run(
        process.execPath,
        [
          join(ROOT, 'node_modules/typescript/bin/tsc'),
          '--noEmit',
          '--strict',
          '--module',
          'nodenext',
          '--moduleResolution',
          'nodenext',
          '--typeRoots',
          join(ROOT, 'node_modules/@types'),
          '--types',
          'node',
          typed,
        ],
        { cwd: app },
      );
      assert.equal(tsc.code, 0, tsc.stdout + tsc.stderr);

      // 6. check: 0 against the running agent (by --port and by CLEF_AGENT_PORT) ...
      const ok = await run(bin, ['check', '--port', String(port)], { cwd: app });
      assert.equal(ok.code, 0, ok.stderr);
      const okEnv = await run(bin, ['check', '--health'], { cwd: app, env: cleanEnv({ CLEF_AGENT_PORT: String(port) }) });
      assert.equal(okEnv.code, 0, okEnv.stderr);

      // ... and 1 once it is stopped.
      assert.equal(await agent.stop(), 0, agent.output());
      stopped = true;
      const down = await run(bin, ['check', '--port', String(port)], { cwd: app });
      assert.equal(down.code, 1);
      assert.match(down.stderr, /connection refused/);
    } finally {
      if (!stopped) await agent.stop();
    }
  });
});

interface Installed {
  /** The port from the agent's `listening` log line. */
  readonly port: Promise<number>;
  /** SIGTERM (SIGKILL after 10 s); the exit code. */
  stop(): Promise<number | null>;
  output(): string;
}

/** The installed bin with no arguments (serve), in a clean environment plus `env`. */
function startInstalled(bin: string, cwd: string, env: Record<string, string>): Installed {
  const child: ChildProcess = spawn(bin, [], { cwd, env: cleanEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const closed = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const listening = (): number | undefined => {
    for (const line of stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const l = JSON.parse(line) as { event?: string; port?: number };
      if (l.event === 'listening') return l.port;
    }
    if (child.exitCode !== null) throw new Error(`the installed agent exited ${child.exitCode}: ${stdout}${stderr}`);
    return undefined;
  };
  return {
    port: waitUntil(listening, 30_000, 'the installed agent listening', 50),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      try {
        return await closed;
      } finally {
        clearTimeout(kill);
      }
    },
    output: () => stdout + stderr,
  };
}
