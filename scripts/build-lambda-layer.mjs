#!/usr/bin/env node
// Builds the AWS Lambda layer (SPEC §6): dist-lambda/clef-agent-layer.zip, unpacked by Lambda under /opt:
//
//   extensions/clef-agent      the executable Lambda starts (a POSIX sh launcher, 0755): it sets
//                              CLEF_AGENT_LAMBDA_EXTENSION_NAME to its own file name and execs the agent
//   clef-agent/clef-agent      the standalone binary (0755) when dist-bin/clef-agent exists (npm run
//                              build:binary) — the function's runtime then needs no Node at all
//   — or, without a binary, the Node build: clef-agent/dist/{src,workers}/ (the production bundle,
//   every dependency in it, piscina included), clef-agent/package.json ("type": "module"); the
//   launcher then runs it with the runtime's `node` (Node ≥ 20 on PATH: the nodejs runtimes).
//
// Usage: node scripts/build-lambda-layer.mjs [--node] [--binary PATH] [--out DIR]
//   --node     the Node build even when a binary exists (what the test suite packs: fast)
//   --binary   this standalone binary instead of dist-bin/clef-agent
//   --out      output directory (default dist-lambda/)
//
// The zip is written by yazl (a dev dependency) with explicit Unix modes (0755 executables, 0644
// files), so `unzip` and Lambda keep the executable bits, and a fixed mtime, so the same inputs make
// the same zip.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, createWriteStream, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { join, relative, resolve } from 'node:path';
import yazl from 'yazl';

const root = resolve(new URL('..', import.meta.url).pathname);
const args = process.argv.slice(2);
const flag = (name) => {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`);
  return v;
};
for (const a of args)
  if (a.startsWith('--') && !['--node', '--binary', '--out'].includes(a))
    throw new Error(`unknown flag ${a}; usage: build-lambda-layer.mjs [--node] [--binary PATH] [--out DIR]`);
const outDir = resolve(flag('--out') ?? join(root, 'dist-lambda'));
const wantNode = args.includes('--node');
const binary = wantNode ? undefined : resolve(flag('--binary') ?? join(root, 'dist-bin', 'clef-agent'));
const useBinary = binary !== undefined && existsSync(binary);
if (flag('--binary') !== undefined && !useBinary) throw new Error(`--binary ${binary}: no such file`);

/** The layer's extensions/clef-agent. POSIX sh: every Lambda runtime image has /bin/sh. */
const LAUNCHER = `#!/bin/sh
# clef-agent Lambda extension launcher. Lambda starts every executable in /opt/extensions during
# init and registers it under the name it sends, which must be this file's name: the agent sends
# CLEF_AGENT_LAMBDA_EXTENSION_NAME.
set -eu
CLEF_AGENT_LAMBDA_EXTENSION_NAME="\${0##*/}"
export CLEF_AGENT_LAMBDA_EXTENSION_NAME
# Builtins only (no dirname): the function's PATH is not ours to rely on.
case "$0" in */*) extensions_dir="\${0%/*}" ;; *) extensions_dir=. ;; esac
agent_dir="$(cd "$extensions_dir/.." && pwd)/clef-agent"
if [ -x "$agent_dir/clef-agent" ]; then
  exec "$agent_dir/clef-agent"
fi
if ! command -v node >/dev/null 2>&1; then
  echo "clef-agent: this layer holds the Node build and the function's runtime has no node on PATH; use the layer built with the standalone binary (npm run build:binary, then npm run build:lambda-layer)" >&2
  exit 127
fi
exec node "$agent_dir/dist/src/main.js"
`;

const stage = join(outDir, 'layer');
rmSync(outDir, { recursive: true, force: true });
mkdirSync(join(stage, 'extensions'), { recursive: true });
mkdirSync(join(stage, 'clef-agent'), { recursive: true });
writeFileSync(join(stage, 'extensions', 'clef-agent'), LAUNCHER, { mode: 0o755 });
chmodSync(join(stage, 'extensions', 'clef-agent'), 0o755);

const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
if (useBinary) {
  cpSync(binary, join(stage, 'clef-agent', 'clef-agent'));
  chmodSync(join(stage, 'clef-agent', 'clef-agent'), 0o755);
} else {
  const agent = join(stage, 'clef-agent');
  execFileSync(process.execPath, [join(root, 'scripts', 'build-prod.mjs'), '--out', join(agent, 'dist')], { stdio: 'inherit' });
  // The client (clef-agent/client) is for applications that install the package; a function
  // bundles its own copy, and the extension never loads it.
  rmSync(join(agent, 'dist', 'client'), { recursive: true, force: true });
  writeFileSync(join(agent, 'package.json'), `${JSON.stringify({ name: 'clef-agent-lambda-layer', version, private: true, type: 'module' }, null, 2)}\n`);
}

// ── zip ────────────────────────────────────────────────────────────────────────────────────────
/** Every file and directory under `dir`, sorted, as [path in the zip, absolute path]. */
function walk(dir, prefix = '') {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const abs = join(dir, name);
    const rel = prefix === '' ? name : `${prefix}/${name}`;
    const st = lstatSync(abs);
    if (st.isSymbolicLink()) throw new Error(`${relative(root, abs)} is a symbolic link; the layer holds regular files only`);
    if (st.isDirectory()) out.push([`${rel}/`, abs], ...walk(abs, rel));
    else out.push([rel, abs]);
  }
  return out;
}

/** A fixed instant for every entry: the same inputs make the same zip. */
const MTIME = new Date('1980-01-02T00:00:00Z');

async function writeZip(entries, path) {
  const zip = new yazl.ZipFile();
  for (const [name, abs] of entries) {
    if (name.endsWith('/')) zip.addEmptyDirectory(name, { mtime: MTIME, mode: 0o040755 });
    else zip.addFile(abs, name, { mtime: MTIME, mode: 0o100000 | (statSync(abs).mode & 0o111 ? 0o755 : 0o644), compressionLevel: 9 });
  }
  zip.end();
  const out = zip.outputStream.pipe(createWriteStream(path));
  await once(out, 'close');
}

const entries = walk(stage);
const zipPath = join(outDir, 'clef-agent-layer.zip');
await writeZip(entries, zipPath);

const unpacked = entries.filter(([n]) => !n.endsWith('/')).reduce((sum, [, abs]) => sum + statSync(abs).size, 0);
const mib = (n) => `${(n / 1024 / 1024).toFixed(1)} MiB`;
const summary = {
  zip: zipPath,
  variant: useBinary ? 'binary' : 'node',
  version,
  zipBytes: statSync(zipPath).size,
  unpackedBytes: unpacked,
  files: entries.length,
};
writeFileSync(join(outDir, 'layer.json'), `${JSON.stringify(summary, null, 2)}\n`);
console.log(
  `built ${relative(process.cwd(), zipPath) || zipPath}: the ${summary.variant} variant, ${mib(summary.zipBytes)} zipped, ${mib(unpacked)} unpacked (Lambda: ≤ 50 MiB zipped to upload directly, ≤ 250 MiB unpacked for the function and all its layers)`,
);
