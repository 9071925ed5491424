/**
 * The container image (SPEC §9), checked without a container engine: the Dockerfile is parsed and
 * its rules checked (the runtime stage copies only the installed package, runs as a numeric
 * non-root user, carries the OCI labels), then its build stage is replayed in a temp root
 * (image-build.ts: the same `npm pack` and `npm install --omit=dev` lines) and the runtime stage's
 * ENTRYPOINT+CMD and HEALTHCHECK run from that install as the image's uid (setpriv, when there),
 * against a real artifact.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, chownSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { artifactJson, ageKeyPair, samplePayload, signingKey } from '../helpers/artifacts.js';
import { request, waitUntil } from '../kit/index.js';
import { all, execForm, healthcheckCommand, keyValues, last, parseStages, type Stage } from './dockerfile.js';
import { REPO, copyBuildFiles, numericUser, replayBuildStage, runtimeEnv, runtimePath } from './image-build.js';

const text = readFileSync(join(REPO, 'Dockerfile'), 'utf8');
const stages = parseStages(text);
const build = stages[0]!;
const runtime = stages.at(-1)!;
/** Where the runtime stage puts tini, the image's init. */
const INIT = '/usr/bin/tini';
const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { name: string; version: string; license: string };

/** The `--prefix` of the build stage's `npm install` line: where the package is installed. */
function installPrefix(stage: Stage): string {
  const run = all(stage, 'RUN').find((r) => /^npm install\b/.test(r.args));
  const m = run && /--prefix\s+(\S+)/.exec(run.args);
  assert.ok(m, 'the build stage installs the packed tarball with npm install --prefix');
  return m[1]!;
}

describe('Dockerfile rules', () => {
  it('has a build stage and a runtime stage on the same Node LTS image', () => {
    assert.equal(stages.length, 2);
    assert.equal(build.name, 'build');
    assert.match(runtime.image, /^node:26-[a-z]+-slim$/, 'the runtime runs on the current Node LTS (26), slim variant');
    assert.equal(build.image, runtime.image, 'the tarball is installed on the same Node it runs on');
  });

  it('builds through npm pack and installs the tarball without dev dependencies', () => {
    const runs = all(build, 'RUN').map((r) => r.args);
    assert.ok(
      runs.some((r) => /\bnpm pack\b/.test(r)),
      'npm pack (prepack is the production build)',
    );
    const install = runs.find((r) => /^npm install\b/.test(r));
    assert.ok(install?.includes('--omit=dev'), install);
    assert.match(install ?? '', /\.tgz$/);
  });

  it('the runtime stage copies exactly the installed package and the init, and runs nothing', () => {
    const copies = all(runtime, 'COPY');
    assert.equal(copies.length, 2, 'two COPYs: the install and tini');
    for (const c of copies) assert.equal(c.flags['from'], 'build', 'copied from the build stage, never from the build context');
    const prefix = installPrefix(build);
    assert.deepEqual(copies[0]!.args.split(/\s+/), [prefix, prefix]);
    assert.deepEqual(copies[1]!.args.split(/\s+/), ['/usr/bin/tini-static', INIT]);
    assert.ok(
      all(build, 'RUN').some((r) => /apt-get install\b.*\btini\b/.test(r.args)),
      'the build stage installs tini from Debian',
    );
    assert.equal(all(runtime, 'RUN').length, 0);
  });

  it('runs as a numeric non-root uid:gid', () => {
    const user = numericUser(runtime);
    assert.ok(user, `USER must be numeric uid:gid, is ${last(runtime, 'USER')?.args}`);
    assert.ok(user[0] > 0 && user[1] > 0, 'not root');
  });

  it('carries the OCI labels, the version and licence taken from package.json', () => {
    const labels = Object.assign({}, ...all(runtime, 'LABEL').map((l) => keyValues(l.args))) as Record<string, string>;
    for (const k of ['title', 'description', 'version', 'licenses']) assert.ok(labels[`org.opencontainers.image.${k}`], k);
    assert.equal(labels['org.opencontainers.image.title'], pkg.name);
    assert.equal(labels['org.opencontainers.image.version'], pkg.version);
    assert.equal(labels['org.opencontainers.image.licenses'], pkg.license);
  });

  it('ENTRYPOINT, CMD and HEALTHCHECK are in exec form and run the agent and its check command', () => {
    // tini as PID 1 (and subreaper): signals forwarded, exit code kept, orphans reaped.
    assert.deepEqual(execForm(last(runtime, 'ENTRYPOINT')!.args), [INIT, '-s', '--', 'clef-agent']);
    assert.deepEqual(execForm(last(runtime, 'CMD')!.args), ['serve']);
    assert.deepEqual(healthcheckCommand(last(runtime, 'HEALTHCHECK')!), ['clef-agent', 'check']);
  });
});

/** A free loopback port for the agent (the check command finds it through CLEF_AGENT_PORT, as in the container). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

/** Whether this machine can start a process in a new PID namespace (root, util-linux unshare). */
const pidNamespaces = spawnSync('unshare', ['--pid', '--fork', '--mount-proc', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0;

/** An absolute program path of the image (the init) moved under the replayed root. */
function inImage(root: string, argv: readonly string[]): string[] {
  const [program, ...rest] = argv;
  return [program?.startsWith('/') && existsSync(join(root, program)) ? join(root, program) : program!, ...rest];
}

/** setpriv (util-linux) switches to the image's uid; without it (or when not root) commands run as the test's user. */
const [uid, gid] = numericUser(runtime) ?? [10001, 10001];
const canSwitch = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
function asImageUser(argv: readonly string[]): string[] {
  return canSwitch ? ['setpriv', `--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', ...argv] : [...argv];
}

describe('the image built from the Dockerfile, run as the image runs', { timeout: 600_000 }, () => {
  let root = '';
  let prefix = '';
  before(() => {
    root = replayBuildStage(build).root;
    prefix = join(root, installPrefix(build));
    copyBuildFiles(runtime, root, installPrefix(build));
  });
  after(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('the install holds the package and its runtime dependencies only', () => {
    const modules = readdirSync(join(prefix, 'node_modules'));
    assert.ok(modules.includes(pkg.name));
    // Dev-only packages are the ones package-lock.json marks `dev`: none of them may be installed.
    const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    const devOnly = Object.keys(lock.packages).filter((p) => lock.packages[p]!.dev === true && /^node_modules\/(@[^/]+\/)?[^/]+$/.test(p));
    assert.ok(devOnly.includes('node_modules/typescript'));
    for (const dev of devOnly) assert.ok(!existsSync(join(prefix, dev)), `dev-only ${dev} installed`);
    // The production build: one bundle per thread, with its on-demand chunks beside it, and the client (clef-agent/client).
    assert.deepEqual(readdirSync(join(prefix, 'node_modules', pkg.name, 'dist')).sort(), ['client', 'src', 'workers']);
  });

  it('ENTRYPOINT+CMD serves the artifact on 127.0.0.1 and the HEALTHCHECK command exits 0', async (t) => {
    if (!canSwitch) t.diagnostic('setpriv is not available (or not root): the image commands run as the test user');
    const dir = join(root, 'run');
    const tokenDir = join(dir, 'token'); // stands for the emptyDir the agent writes its token to
    mkdirSync(tokenDir, { recursive: true });
    if (canSwitch) chownSync(tokenDir, uid, gid);
    const key = await ageKeyPair();
    const sign = signingKey();
    const payload = samplePayload('IMAGE');
    writeFileSync(join(dir, 'artifact.json'), await artifactJson({ recipient: key.recipient, payload, sign }), { mode: 0o644 });
    writeFileSync(join(dir, 'age-key'), `${key.identity}\n`, { mode: 0o644 }); // root-owned, like a Secret volume
    const port = await freePort();
    const env = {
      ...runtimeEnv(runtime),
      PATH: runtimePath(runtime, root),
      CLEF_AGENT_PORT: String(port),
      CLEF_AGENT_SOURCE: join(dir, 'artifact.json'),
      CLEF_AGENT_AGE_KEY_FILE: join(dir, 'age-key'),
      CLEF_AGENT_TOKEN_FILE: join(tokenDir, 'token'),
      CLEF_AGENT_VERIFY_KEY: sign.verifyKey,
      CLEF_AGENT_WORKERS: '1',
    };
    const installedFiles = readdirSync(prefix, { recursive: true }).length;

    const argv = asImageUser(inImage(root, [...execForm(last(runtime, 'ENTRYPOINT')!.args)!, ...execForm(last(runtime, 'CMD')!.args)!]));
    const agent = spawn(argv[0]!, argv.slice(1), { cwd: join(root, last(runtime, 'WORKDIR')?.args ?? '/'), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    agent.stdout.setEncoding('utf8').on('data', (d: string) => (output += d));
    agent.stderr.setEncoding('utf8').on('data', (d: string) => (output += d));
    const exited = new Promise<number | null>((resolve) => agent.once('close', resolve));
    t.after(async () => {
      agent.kill('SIGTERM');
      const kill = setTimeout(() => agent.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    });
    try {
      await waitUntil(
        async () => {
          if (agent.exitCode !== null) throw new Error(`the agent exited ${agent.exitCode}`);
          return (await request(port, '/v1/ready', { timeoutMs: 2_000 }).catch(() => null))?.status === 200;
        },
        60_000,
        '/v1/ready answering 200',
        100,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${output.slice(-4000)}`);
    }

    if (canSwitch) assert.match(readFileSync(`/proc/${agent.pid}/status`, 'utf8'), new RegExp(`^Uid:\\s+${uid}\\s`, 'm'), 'the agent runs as the image uid');
    const token = readFileSync(join(tokenDir, 'token'), 'utf8').trim();
    assert.match(token, /^[0-9a-f]{64}$/, 'the agent created the token file for the app to read');
    const secrets = await request(port, '/v1/secrets', { token });
    assert.equal(secrets.status, 200, secrets.body);
    assert.deepEqual(secrets.json(), payload);

    const probe = asImageUser(healthcheckCommand(last(runtime, 'HEALTHCHECK')!));
    const check = await new Promise<{ code: number | null; out: string }>((resolve, reject) => {
      const c = spawn(probe[0]!, probe.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      c.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
      c.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
      const kill = setTimeout(() => c.kill('SIGKILL'), 30_000);
      c.once('error', reject);
      c.once('close', (code) => {
        clearTimeout(kill);
        resolve({ code, out });
      });
    });
    assert.equal(check.code, 0, `HEALTHCHECK ${probe.join(' ')}: ${check.out}`);
    assert.equal(readdirSync(prefix, { recursive: true }).length, installedFiles, 'the agent wrote nothing into its install');
  });

  // Exec mode makes the agent the container's only process: the application's own children then
  // leave orphans, re-parented to PID 1. A new PID namespace stands for the container; the image's
  // ENTRYPOINT is PID 1 in it. The command leaves one orphan that exits, then counts the zombies
  // its init holds: without tini in front of the agent (Node cannot waitpid(-1)) that stays 1.
  it(`exec mode: the image's init reaps the orphans the command leaves${pidNamespaces ? ' (PID 1 of a new PID namespace)' : ' (substitute: no PID namespace, tini as subreaper)'}`, async (t) => {
    const dir = join(root, 'exec');
    mkdirSync(dir, { recursive: true });
    if (canSwitch) chownSync(dir, uid, gid);
    const key = await ageKeyPair();
    const sign = signingKey();
    writeFileSync(join(dir, 'artifact.json'), await artifactJson({ recipient: key.recipient, payload: samplePayload('EXEC'), sign }), { mode: 0o644 });
    writeFileSync(join(dir, 'age-key'), `${key.identity}\n`, { mode: 0o644 });
    const marker = join(dir, 'orphan-done');
    // The orphan: a shell that exits at once, leaving `sleep; touch` behind. Then: wait for the
    // orphan to finish, and count the zombies of the init (or of the agent) until there are none.
    const script = [
      `sh -c '(sleep 0.2; touch ${marker}) &'`,
      `i=0; while [ ! -e ${marker} ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i+1)); done`,
      // Orphans go to the agent's parent (the init) or, with no init in front, to the agent itself.
      'init=$(cut -d" " -f4 /proc/$PPID/stat)',
      'zombies() { n=0; for f in /proc/[0-9]*/stat; do set -- $(cat $f 2>/dev/null); [ "$3" = Z ] && { [ "$4" = "$init" ] || [ "$4" = "$PPID" ]; } && n=$((n+1)); done; echo $n; }',
      'i=0; while [ "$(zombies)" != 0 ] && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done',
      'echo "zombies=$(zombies) marker=$([ -e ' + marker + ' ] && echo yes)"',
    ].join('; ');
    const image = inImage(root, [...execForm(last(runtime, 'ENTRYPOINT')!.args)!, 'exec', '--', 'sh', '-c', script]);
    const argv = pidNamespaces ? ['unshare', '--pid', '--fork', '--mount-proc', ...asImageUser(image)] : asImageUser(image);
    const env = {
      ...runtimeEnv(runtime),
      PATH: runtimePath(runtime, root),
      CLEF_AGENT_SOURCE: join(dir, 'artifact.json'),
      CLEF_AGENT_AGE_KEY_FILE: join(dir, 'age-key'),
      CLEF_AGENT_VERIFY_KEY: sign.verifyKey,
      CLEF_AGENT_TOKEN: 'a'.repeat(64),
      CLEF_AGENT_WORKERS: '1',
    };
    const child = spawn(argv[0]!, argv.slice(1), { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
    t.after(() => clearTimeout(kill));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    assert.equal(code, 0, `${out}\n${err.slice(-3000)}`);
    assert.match(out, /^zombies=0 marker=yes$/m, `${out}\n${err.slice(-3000)}`);
  });
});
