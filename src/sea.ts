/**
 * Running as the standalone binary (SPEC §9; built by scripts/build-binary.mjs): a Node
 * single-executable application whose main script is the bundled main thread, with the bundled
 * worker code and package.json embedded as SEA assets. Outside the binary every function here
 * answers `undefined` and the agent runs from dist/ as before.
 *
 * Worker threads need real files: piscina starts its worker wrapper with `new Worker(path)`, and
 * that wrapper loads our handler by file name. The binary's worker code is ES module chunks whose
 * entry (`index.mjs`) holds both (scripts/worker-bundle.mjs), written once into a private temp
 * directory (mkdtemp: random name, mode 0700; each file 0400, created exclusively) and removed when
 * the process exits.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The part of `node:sea` used here. */
interface SeaModule {
  isSea(): boolean;
  getAsset(key: string, encoding: string): string;
  getRawAsset(key: string): ArrayBuffer;
}

/** Asset names, shared with scripts/build-binary.mjs: the list of worker chunks, each chunk under `worker/`. */
export const SEA_ASSETS = { workerFiles: 'worker-files.json', workerPrefix: 'worker/', packageJson: 'package.json' } as const;

/** The worker entry among the chunks. */
const WORKER_ENTRY = 'index.mjs';

const sea = loadSea();

function loadSea(): SeaModule | undefined {
  // `node:sea` and `process.getBuiltinModule` are missing from early Node 20 releases: there, this
  // is never a SEA (the binary is built on a newer Node).
  const mod = ('getBuiltinModule' in process ? process.getBuiltinModule('node:sea') : undefined) as SeaModule | undefined;
  return mod !== undefined && mod.isSea() ? mod : undefined;
}

/** An embedded text asset, when running as the binary. */
export function seaTextAsset(key: string): string | undefined {
  return sea?.getAsset(key, 'utf8');
}

let workerFile: URL | undefined;

/**
 * In the binary: the worker file (written on first call, removed at exit), which is both piscina's
 * worker wrapper and the task handler. Outside it: `undefined`.
 */
export function seaWorkerFile(): URL | undefined {
  if (sea === undefined) return undefined;
  if (workerFile !== undefined) return workerFile;
  const dir = mkdtempSync(join(tmpdir(), 'clef-agent-'));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const files: unknown = JSON.parse(sea.getAsset(SEA_ASSETS.workerFiles, 'utf8'));
  if (!Array.isArray(files) || !files.every((f): f is string => typeof f === 'string' && /^[\w-][\w.-]*\.mjs$/.test(f)) || !files.includes(WORKER_ENTRY)) {
    throw new Error('the binary is damaged: its list of worker files is malformed');
  }
  for (const f of files) {
    // 'wx': never through a file or link someone else put there.
    writeFileSync(join(dir, f), new Uint8Array(sea.getRawAsset(`${SEA_ASSETS.workerPrefix}${f}`)), { mode: 0o400, flag: 'wx' });
  }
  const path = join(dir, WORKER_ENTRY);
  workerFile = pathToFileURL(path);
  return workerFile;
}

/**
 * In the binary: the environment for worker threads, without NODE_OPTIONS. The binary takes no
 * Node options from its environment (SEA `execArgvExtension: "none"`), but `new Worker` parses
 * NODE_OPTIONS from the environment it is given (checked: a `--require` there ran in every worker).
 * Outside it: `undefined` (piscina's default, a copy of process.env).
 */
export function seaWorkerEnv(): Record<string, string | undefined> | undefined {
  if (sea === undefined) return undefined;
  const { NODE_OPTIONS: _ignored, ...env } = process.env;
  return env;
}
