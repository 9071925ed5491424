/**
 * Running as the standalone binary (SPEC §9; built by scripts/build-binary.mjs): a Node
 * single-executable application whose main script is the bundled main thread, with the bundled
 * worker code and package.json embedded as SEA assets. Outside the binary every function here
 * answers `undefined` and the agent runs from dist/ as before.
 *
 * Worker threads need a real file: piscina starts its own worker wrapper with `new Worker(path)`,
 * and that wrapper loads our handler by file name. The binary's worker asset is one CommonJS file
 * holding both (its exports are the handler), written once into a private temp directory
 * (mkdtemp: random name, mode 0700) and removed when the process exits.
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

/** Asset names, shared with scripts/build-binary.mjs. */
export const SEA_ASSETS = { worker: 'worker.cjs', packageJson: 'package.json' } as const;

/**
 * Where the binary's bundled piscina looks for its worker wrapper: build-binary.mjs rewrites
 * piscina's `resolve(__dirname, 'worker.js')` to read this global (in a SEA, `__dirname` is the
 * executable's directory, and nothing is written there).
 */
const PISCINA_WORKER_FILE = Symbol.for('clef-agent.sea.piscina-worker-file');

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
  const path = join(dir, SEA_ASSETS.worker);
  // 'wx': never through a file or link someone else put there.
  writeFileSync(path, new Uint8Array(sea.getRawAsset(SEA_ASSETS.worker)), { mode: 0o400, flag: 'wx' });
  (globalThis as Record<symbol, unknown>)[PISCINA_WORKER_FILE] = path;
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
