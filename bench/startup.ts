/**
 * Start-up time of the standalone binary against `node dist/src/main.js` (README "Standalone
 * binary"): process spawn → the first 200 from GET /v1/ready (artifact fetched, verified and
 * decrypted by a worker), and spawn → exit for `--version`; the median of several runs, the
 * candidates taking turns so machine noise hits them alike. Measured, never asserted.
 *
 *   npm run build && npm run build:binary
 *   node dist/bench/startup.js [--runs N] [--binary dist-bin/clef-agent] [--node /path/to/node ...]
 *
 * `--node` (repeatable) adds `that-node dist/src/main.js` as a candidate; the Node running this
 * script is always one.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { freePort } from './lib/proc.js';

interface Candidate {
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
}

const root = fileURLToPath(new URL('../..', import.meta.url));
const main = join(root, 'dist', 'src', 'main.js');
const TOKEN = 'c'.repeat(64);

function options(argv: readonly string[]): { runs: number; binary: string; nodes: string[] } {
  const o = { runs: 9, binary: join(root, 'dist-bin', 'clef-agent'), nodes: [] as string[] };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--runs') o.runs = Number.parseInt(value, 10);
    else if (flag === '--binary') o.binary = value;
    else if (flag === '--node') o.nodes.push(value);
    else throw new Error(`unknown option ${flag}`);
  }
  return o;
}

function readyStatus(port: number): Promise<number> {
  return new Promise((resolve) => {
    get({ host: '127.0.0.1', port, path: '/v1/ready', headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    }).on('error', () => resolve(0));
  });
}

/** Milliseconds from spawn to the first 200 from /v1/ready; the agent is stopped after. */
async function timeToReady(c: Candidate, env: Record<string, string>): Promise<number> {
  const port = await freePort();
  const start = performance.now();
  const child = spawn(c.command, [...c.args], { env: { ...env, CLEF_AGENT_PORT: String(port) }, stdio: 'ignore' });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`${c.label} exited (${child.exitCode}) before it was ready`);
      if ((await readyStatus(port)) === 200) return performance.now() - start;
      if (performance.now() - start > 30_000) throw new Error(`${c.label} not ready after 30 s`);
      await new Promise((r) => setTimeout(r, 2));
    }
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

function timeToVersion(c: Candidate): number {
  const start = performance.now();
  const r = spawnSync(c.command, [...c.args, '--version'], { stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${c.label} --version failed`);
  return performance.now() - start;
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

async function bench(): Promise<void> {
  const o = options(process.argv.slice(2));
  const version = (node: string): string => spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const candidates: Candidate[] = [
    { label: `clef-agent binary (${(statSync(o.binary).size / 1024 / 1024).toFixed(1)} MiB)`, command: o.binary, args: [] },
    ...[process.execPath, ...o.nodes].map((node) => ({ label: `node ${version(node)} dist/src/main.js`, command: node, args: [main] })),
  ];
  const dir = mkdtempSync(join(tmpdir(), 'clef-startup-'));
  try {
    const identity = await generateIdentity();
    writeFileSync(join(dir, 'payload.json'), JSON.stringify({ app: { DB_PASSWORD: 'x'.repeat(32), API_KEY: 'y'.repeat(40) } }));
    const packed = spawnSync(process.execPath, [
      main,
      'pack',
      '--payload',
      join(dir, 'payload.json'),
      '--recipient',
      await identityToRecipient(identity),
      '--identity',
      'bench',
      '--environment',
      'bench',
      '--out',
      join(dir, 'artifact.json'),
    ]);
    if (packed.status !== 0) throw new Error(`pack failed: ${packed.stderr.toString()}`);
    const env = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      CLEF_AGENT_SOURCE: join(dir, 'artifact.json'),
      CLEF_AGENT_AGE_KEY: identity,
      CLEF_AGENT_TOKEN: TOKEN,
      CLEF_AGENT_LOG_LEVEL: 'error',
    };
    const ready = new Map<Candidate, number[]>(candidates.map((c) => [c, []]));
    const versions = new Map<Candidate, number[]>(candidates.map((c) => [c, []]));
    for (const c of candidates) await timeToReady(c, env); // warm the page cache
    for (let i = 0; i < o.runs; i++) {
      for (const c of candidates) {
        ready.get(c)?.push(await timeToReady(c, env));
        versions.get(c)?.push(timeToVersion(c));
      }
    }
    console.log(`median of ${o.runs} runs (ms)\n`);
    console.log('| | spawn → /v1/ready 200 | spawn → `--version` exit |\n|---|---:|---:|');
    for (const c of candidates) console.log(`| ${c.label} | ${median(ready.get(c) ?? []).toFixed(0)} | ${median(versions.get(c) ?? []).toFixed(0)} |`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await bench();
