/**
 * Builds "the image" without a container engine: the Dockerfile's build stage replayed in a temp
 * directory that stands for the image's root filesystem. Its COPY lines copy the same sources out
 * of the repository, and its RUN lines run as written, with their absolute paths moved under the
 * temp root (`/opt/clef-agent` → `<root>/opt/clef-agent`). The one substitution: `npm ci` becomes
 * a symlink to the repository's node_modules (the same lockfile, already installed), so the suite
 * needs no second dependency install and `npm pack`'s prepack never touches the repository's dist/.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { all, keyValues, last, type Stage } from './dockerfile.js';

/** dist/test/deploy/ → the repository root. */
export const REPO = fileURLToPath(new URL('../../../', import.meta.url));

/** Moves the absolute paths in a shell command under `root`. */
export function underRoot(root: string, command: string): string {
  return command.replace(/(^|\s)(\/[A-Za-z])/g, `$1${root}$2`);
}

/**
 * The test's environment (certificates, proxies, registry settings) without what an `npm test`
 * parent adds for its own package (npm_package_*, npm_lifecycle_*, its prefix), which would point
 * npm at the repository instead of the temp root.
 */
function npmEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^npm_(package_|lifecycle_|command$|config_(local_)?prefix$)|^INIT_CWD$/.test(k)) continue;
    env[k] = v;
  }
  env['PATH'] = `${dirname(process.execPath)}:${process.env['PATH'] ?? '/usr/bin:/bin'}`;
  env['npm_config_update_notifier'] = 'false';
  return env;
}

function copyInto(source: string, dest: string): void {
  const from = join(REPO, source);
  if (statSync(from).isDirectory()) cpSync(from, dest, { recursive: true });
  else cpSync(from, dest.endsWith('/') ? join(dest, basename(source)) : dest);
}

export interface BuiltImage {
  /** The temp directory standing for the image's root filesystem (mode 0755). */
  readonly root: string;
  /** What each RUN line printed, for failure messages. */
  readonly log: string;
}

/** Replays the build stage (see the file comment); throws with the output when a RUN line fails. */
export function replayBuildStage(build: Stage): BuiltImage {
  const root = mkdtempSync(join(tmpdir(), 'clef-image-'));
  chmodSync(root, 0o755); // the unprivileged uid must reach the install, as in the image
  let workdir = root;
  let log = '';
  for (const ins of build.instructions) {
    if (ins.keyword === 'WORKDIR') {
      workdir = join(root, ins.args);
      mkdirSync(workdir, { recursive: true });
    } else if (ins.keyword === 'COPY') {
      if (ins.flags['from'] !== undefined) throw new Error(`line ${ins.line}: the build stage copies from another stage`);
      const parts = ins.args.split(/\s+/);
      const dest = parts.pop()!;
      const target = join(workdir, dest) + (dest.endsWith('/') ? '/' : '');
      mkdirSync(dest.endsWith('/') ? target : dirname(target), { recursive: true });
      for (const source of parts) copyInto(source, target);
    } else if (ins.keyword === 'RUN') {
      if (/^apt-get\b/.test(ins.args)) {
        requireDebianPackages(ins.args, ins.line);
        continue;
      }
      if (/^npm ci\b/.test(ins.args)) {
        symlinkSync(join(REPO, 'node_modules'), join(workdir, 'node_modules'));
        continue;
      }
      const r = spawnSync('sh', ['-c', underRoot(root, ins.args)], { cwd: workdir, env: npmEnv(), encoding: 'utf8', timeout: 300_000 });
      log += `$ ${ins.args}\n${r.stdout}${r.stderr}`;
      if (r.status !== 0) throw new Error(`RUN at line ${ins.line} exited ${r.status ?? r.signal}:\n${log.slice(-6000)}`);
    }
  }
  return { root, log };
}

/**
 * An `apt-get install` line is not replayed (it would change the test machine): each package it
 * names must already be installed here (.ci/run installs them), so the files the runtime stage
 * copies from it exist at the same paths.
 */
function requireDebianPackages(run: string, line: number): void {
  for (const step of run.split('&&')) {
    const words = step.trim().split(/\s+/);
    if (words[0] !== 'apt-get' || !words.includes('install')) continue;
    for (const name of words.slice(words.indexOf('install') + 1).filter((w) => !w.startsWith('-'))) {
      const q = spawnSync('dpkg-query', ['-W', '-f=${Status}', name], { encoding: 'utf8' });
      if (q.stdout !== 'install ok installed')
        throw new Error(
          `line ${line}: the build stage installs the Debian package ${name}; install it on this machine too (apt-get install ${name}), as .ci/run does`,
        );
    }
  }
}

/**
 * The runtime stage's COPY --from=build of a file outside the install (the init): the build stage
 * got it from a Debian package, which is installed on this machine at the same path.
 */
export function copyBuildFiles(runtime: Stage, root: string, install: string): void {
  for (const ins of all(runtime, 'COPY')) {
    const [source, dest] = ins.args.split(/\s+/);
    if (ins.flags['from'] !== 'build' || source === undefined || dest === undefined || source === install) continue;
    const target = join(root, dest);
    mkdirSync(dirname(target), { recursive: true });
    cpSync(source, target);
  }
}

/** The runtime stage's PATH with its image paths moved under `root` where they exist there, then node's directory. */
export function runtimePath(runtime: Stage, root: string): string {
  const env = Object.assign({}, ...all(runtime, 'ENV').map((i) => keyValues(i.args))) as Record<string, string>;
  const entries = (env['PATH'] ?? '').split(':').filter(Boolean);
  const mapped = entries.map((p) => (existsSync(join(root, p)) ? join(root, p) : p));
  return [...mapped, dirname(process.execPath)].join(':');
}

/** The runtime stage's environment besides PATH (NODE_ENV, …), as the container would have it. */
export function runtimeEnv(runtime: Stage): Record<string, string> {
  const env = Object.assign({}, ...all(runtime, 'ENV').map((i) => keyValues(i.args))) as Record<string, string>;
  delete env['PATH'];
  return env;
}

/** `[uid, gid]` from the runtime stage's USER, or null when it is not `uid:gid` in numbers. */
export function numericUser(runtime: Stage): [number, number] | null {
  const m = /^(\d+):(\d+)$/.exec(last(runtime, 'USER')?.args ?? '');
  return m ? [Number(m[1]), Number(m[2])] : null;
}
