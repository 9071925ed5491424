#!/usr/bin/env node
// Builds the AWS Lambda layer (SPEC §6): dist-lambda/clef-agent-layer.zip, unpacked by Lambda under /opt:
//
//   extensions/clef-agent      the executable Lambda starts (a POSIX sh launcher, 0755): it sets
//                              CLEF_AGENT_LAMBDA_EXTENSION_NAME to its own file name and execs the agent
//   clef-agent/clef-agent      the standalone binary (0755) when dist-bin/clef-agent exists (npm run
//                              build:binary) — the function's runtime then needs no Node at all
//   — or, without a binary, the Node build: clef-agent/dist/{src,workers}/ (the production bundle),
//   clef-agent/node_modules/piscina/ (its one external module), clef-agent/package.json ("type":
//   "module"); the launcher then runs it with the runtime's `node` (Node ≥ 20 on PATH: the nodejs
//   runtimes).
//
// Usage: node scripts/build-lambda-layer.mjs [--node] [--binary PATH] [--out DIR]
//   --node     the Node build even when a binary exists (what the test suite packs: fast)
//   --binary   this standalone binary instead of dist-bin/clef-agent
//   --out      output directory (default dist-lambda/)
//
// The zip is written here (zlib deflate, Unix modes in the central directory's external attributes,
// so `unzip` and Lambda keep the executable bits); no zip tool or library is needed.
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';

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
  // piscina starts workers from its own worker.js, so it ships as files (its optional native addon does not: unused).
  const piscina = join(root, 'node_modules', 'piscina');
  mkdirSync(join(agent, 'node_modules', 'piscina'), { recursive: true });
  for (const f of ['package.json', 'LICENSE', 'dist']) {
    if (existsSync(join(piscina, f)))
      cpSync(join(piscina, f), join(agent, 'node_modules', 'piscina', f), { recursive: true, filter: (p) => !p.endsWith('.map') && !p.endsWith('.d.ts') });
  }
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

/** DOS date and time of a fixed instant: the same inputs make the same zip. */
const DOS_TIME = 0;
const DOS_DATE = (1 << 5) | 1; // 1980-01-01

function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, abs] of entries) {
    const isDir = name.endsWith('/');
    const mode = isDir ? 0o040755 : 0o100000 | (statSync(abs).mode & 0o111 ? 0o755 : 0o644);
    const data = isDir ? Buffer.alloc(0) : readFileSync(abs);
    const deflated = isDir ? data : deflateRawSync(data, { level: 9 });
    const stored = isDir || deflated.length >= data.length;
    const body = stored ? data : deflated;
    const crc = isDir ? 0 : crc32(data);
    const nameBytes = Buffer.from(name, 'utf8');
    if (data.length >= 0xffffffff || offset >= 0xffffffff) throw new Error('the layer is too large for a zip without ZIP64 (4 GiB)');
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    local.writeUInt16LE(0x0800, 6); // UTF-8 names
    local.writeUInt16LE(stored ? 0 : 8, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4); // made by: Unix, so the external attributes carry the mode
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(stored ? 0 : 8, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE(((mode << 16) | (isDir ? 0x10 : 0)) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, nameBytes, body);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + body.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const entries = walk(stage);
if (entries.length > 0xffff) throw new Error('too many files for a zip without ZIP64');
const zipPath = join(outDir, 'clef-agent-layer.zip');
writeFileSync(zipPath, zip(entries));

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
