/**
 * Lambda extension cold start (SPEC §6, issue 16): for each way the layer runs the agent (`node`
 * and the shipped bundle; the standalone binary when built) and each artifact (age from a file,
 * age over HTTP, KMS from a file, against the local KMS emulator), the time from process spawn to
 * the `/register` call the Extensions API emulator receives, and to the first 200 from
 * `/v1/secrets` asked right after it (what the function's init sees); beside them the same agent
 * started as a plain daemon (spawn → `/v1/ready` 200, → first `/v1/secrets` 200), and a bare
 * `node -e` start with the same Node (spawn → its first HTTP request to a local server), alone and
 * after starting one worker thread, and after starting one that loads node:crypto (the design's
 * floors: `bareNodeRun`). The median of several runs, candidates taking turns so machine noise hits
 * them alike. Target:
 * spawn → `/register` ≤ 2 × the bare start for an age artifact from a file or HTTP.
 *
 *   npm run build && node scripts/build-prod.mjs --out dist/bundle   (npm run bench does both)
 *   node dist/bench/lambda-coldstart.js [--runs N] [--binary dist-bin/clef-agent] [--sea-node PATH] [--cpus LIST] [--json FILE]
 *
 * `--sea-node`: the Node the binary was built from (default .tmp/node-<version>/…, as
 * scripts/build-binary.mjs installs it), for the binary's bare-start baseline; the bundle also runs
 * on it (the LTS the image ships), beside the Node running this bench.
 * `--cpus`: run every agent and bare start under `taskset -c LIST` (e.g. `1`: the one-core budget a
 * Lambda function below 1769 MB gets at most), so overlapping work on two cores gains nothing.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { join } from 'node:path';
import { ArtifactServer } from '../emulators/artifact-server.js';
import { LambdaExtensionsApi } from '../emulators/lambda-extensions.js';
import { makeFixtures, type EncryptionKind } from './lib/fixtures.js';
import { bundleFile, distFile, freePort, get, ROOT } from './lib/proc.js';

interface Candidate {
  readonly label: string;
  readonly command: string;
  readonly args: readonly string[];
  /** The Node it runs on, for the bare-start baseline (undefined: none found). */
  readonly node: string | undefined;
}

interface Scenario {
  readonly label: string;
  readonly kind: EncryptionKind;
  readonly http: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  { label: 'age, file', kind: 'age', http: false },
  { label: 'age, HTTP', kind: 'age', http: true },
  { label: 'KMS, file', kind: 'kms', http: false },
];

interface Options {
  runs: number;
  binary: string;
  seaNode: string | undefined;
  cpus: string | undefined;
  json: string | undefined;
}

function options(argv: readonly string[]): Options {
  const o: Options = { runs: 5, binary: join(ROOT, 'dist-bin', 'clef-agent'), seaNode: undefined, cpus: undefined, json: undefined };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--runs') {
      o.runs = Number.parseInt(value, 10);
      if (!(o.runs >= 1 && o.runs <= 100)) throw new Error('--runs: expected an integer from 1 to 100');
    } else if (flag === '--binary') o.binary = value;
    else if (flag === '--sea-node') o.seaNode = value;
    else if (flag === '--json') o.json = value;
    else if (flag === '--cpus') {
      if (!/^\d+([,-]\d+)*$/.test(value)) throw new Error('--cpus: expected a taskset CPU list such as 1 or 0,1');
      o.cpus = value;
    } else throw new Error(`unknown option ${flag}; expected --runs, --binary, --sea-node, --cpus or --json`);
  }
  return o;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `--cpus`: the CPU list every spawned process is pinned to. */
let pinned: string | undefined;

/** spawn, under `taskset -c` with `--cpus`. */
function launch(command: string, args: readonly string[], opts: SpawnOptions): ChildProcess {
  return pinned === undefined ? spawn(command, [...args], opts) : spawn('taskset', ['-c', pinned, command, ...args], opts);
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, exited: () => boolean): Promise<T> {
  const start = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (exited()) throw new Error(`${what}: the process exited first`);
    if (Date.now() - start > 30_000) throw new Error(`${what}: not within 30 s`);
    await sleep(1);
  }
}

/** A 200 from `path` (with the token), polled; its arrival time (epoch ms). */
function first200(port: number, path: string, token: string, exited: () => boolean): Promise<number> {
  return until(
    path,
    async () => {
      const r = await get(port, path, { authorization: `Bearer ${token}` }, 2_000).catch(() => undefined);
      return r?.status === 200 ? Date.now() : undefined;
    },
    exited,
  );
}

interface LambdaRun {
  readonly register: number;
  readonly secrets: number;
  readonly shutdown: number;
}

async function lambdaRun(c: Candidate, env: Record<string, string>, token: string): Promise<LambdaRun> {
  const api = await new LambdaExtensionsApi().start();
  const port = await freePort();
  const start = Date.now();
  const child = launch(c.command, c.args, {
    env: { ...env, CLEF_AGENT_PORT: String(port), AWS_LAMBDA_RUNTIME_API: api.runtimeApi, CLEF_AGENT_LAMBDA_EXTENSION_NAME: 'clef-agent' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // The agent's stderr, to say why when it exits before registering.
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => void (stderr = (stderr + d.toString('utf8')).slice(-2_000)));
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const registeredAt = await until('/register', () => api.registration?.at, exited);
    // What the function's init does as soon as Lambda starts it: ask for its secrets.
    const secretsAt = await first200(port, '/v1/secrets', token, exited);
    await api.parkedInNext();
    const shutdownStart = Date.now();
    api.shutdown(2_000);
    await gone;
    return { register: registeredAt - start, secrets: secretsAt - start, shutdown: Date.now() - shutdownStart };
  } catch (e) {
    throw new Error(`${c.label}: ${e instanceof Error ? e.message : String(e)}; its stderr:\n${stderr}`);
  } finally {
    if (!exited()) child.kill('SIGKILL');
    await api.close();
  }
}

async function daemonRun(c: Candidate, env: Record<string, string>, token: string): Promise<{ ready: number; secrets: number }> {
  const port = await freePort();
  const start = Date.now();
  const child = launch(c.command, c.args, { env: { ...env, CLEF_AGENT_PORT: String(port) }, stdio: 'ignore' });
  const exited = (): boolean => child.exitCode !== null || child.signalCode !== null;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    const readyAt = await first200(port, '/v1/ready', token, exited);
    const secretsAt = await first200(port, '/v1/secrets', token, exited);
    return { ready: readyAt - start, secrets: secretsAt - start };
  } finally {
    child.kill('SIGTERM');
    await gone;
  }
}

/**
 * Spawn → the first HTTP request a bare `node -e` makes to a local server, in `env`: the agents'
 * own base environment (`baseEnv`), never the bench's. What the environment holds changes a bare
 * start a lot: NODE_EXTRA_CA_CERTS alone makes node 20 read its certificates before any code runs
 * (~40 ms here; Node 26 reads them when first needed), and an agent started without it beside a
 * bare start with it would look ~40 ms better than it is.
 */
async function bareNodeRun(node: string, env: Record<string, string>, worker: 'none' | 'bare' | 'crypto' = 'none'): Promise<number> {
  let hit: number | undefined;
  const server = createHttpServer((_req, res) => {
    hit ??= Date.now();
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  const start = Date.now();
  const request = `require('node:http').request('http://127.0.0.1:${port}/register', { method: 'POST' }, (r) => r.resume()).end()`;
  // The design's floor: the agent registers only after a worker thread has loaded the artifact, so
  // no agent can beat a bare start that first waits for one worker thread (the cheapest: CommonJS,
  // eval'd, answering as soon as it runs). `crypto`: that worker first loads node:crypto, which any
  // worker that verifies and decrypts needs (every primitive the agent uses is there), so no agent
  // of this design can beat that one either.
  const body =
    worker === 'crypto'
      ? "require('node:crypto'); require('node:worker_threads').parentPort.postMessage(1)"
      : "require('node:worker_threads').parentPort.postMessage(1)";
  const script =
    worker === 'none'
      ? request
      : `const { Worker } = require('node:worker_threads'); new Worker(${JSON.stringify(body)}, { eval: true }).once('message', function () { ${request}; this.terminate(); })`;
  const child = launch(node, ['-e', script], {
    env,
    stdio: 'ignore',
  });
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    return (
      (await until(
        'the bare request',
        () => hit,
        () => false,
      )) - start
    );
  } finally {
    await gone;
    await new Promise((r) => server.close(r));
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
};

function defaultSeaNode(): string | undefined {
  const tmp = join(ROOT, '.tmp');
  if (!existsSync(tmp)) return undefined;
  const dir = readdirSync(tmp).find((d) => d.startsWith('node-'));
  const node = dir === undefined ? undefined : join(tmp, dir, 'node_modules', 'node', 'bin', 'node');
  return node !== undefined && existsSync(node) ? node : undefined;
}

async function bench(): Promise<void> {
  const o = options(process.argv.slice(2));
  pinned = o.cpus;
  const version = (node: string): string => spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim();
  const main = existsSync(bundleFile('src/main.js')) ? bundleFile('src/main.js') : distFile('src/main.js');
  const built = `${main.includes('/bundle/') ? 'dist/bundle' : 'dist'}/src/main.js`;
  const candidates: Candidate[] = [{ label: `node ${version(process.execPath)} ${built}`, command: process.execPath, args: [main], node: process.execPath }];
  const seaNode = o.seaNode ?? defaultSeaNode();
  // The LTS the image and the binary ship on, when it is not the Node running this bench.
  if (seaNode !== undefined && version(seaNode) !== version(process.execPath)) {
    candidates.push({ label: `node ${version(seaNode)} ${built}`, command: seaNode, args: [main], node: seaNode });
  }
  if (existsSync(o.binary)) candidates.push({ label: 'standalone binary', command: o.binary, args: [], node: seaNode });
  const fx = await makeFixtures([10], { kinds: ['age', 'kms'], kmsCpus: undefined });
  const http = await new ArtifactServer().start();
  try {
    const age = fx.get('age', 10);
    http.body = readFileSync(age.artifactPath, 'utf8');
    // Every start, agent or bare, gets only PATH from the bench's environment (bareNodeRun says why).
    const baseEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin' };
    const envFor = (s: Scenario): Record<string, string> => {
      const f = fx.get(s.kind, 10);
      return { ...baseEnv, ...f.env, ...(s.http ? { CLEF_AGENT_SOURCE: http.url() } : {}), CLEF_AGENT_LOG_LEVEL: 'error' };
    };
    type Key = string;
    const samples = new Map<Key, number[]>();
    const add = (k: Key, v: number): void => void (samples.get(k) ?? samples.set(k, []).get(k))?.push(v);
    // Warm the page cache once per candidate.
    for (const c of candidates) await daemonRun(c, envFor(SCENARIOS[0] as Scenario), fx.token);
    for (let i = 0; i < o.runs; i++) {
      for (const c of candidates) {
        if (c.node !== undefined) {
          add(`${c.label}|bare`, await bareNodeRun(c.node, baseEnv));
          add(`${c.label}|floor`, await bareNodeRun(c.node, baseEnv, 'bare'));
          add(`${c.label}|crypto-floor`, await bareNodeRun(c.node, baseEnv, 'crypto'));
        }
        for (const s of SCENARIOS) {
          const l = await lambdaRun(c, envFor(s), fx.token);
          add(`${c.label}|${s.label}|register`, l.register);
          add(`${c.label}|${s.label}|lambda-secrets`, l.secrets);
          add(`${c.label}|${s.label}|shutdown`, l.shutdown);
          const d = await daemonRun(c, envFor(s), fx.token);
          add(`${c.label}|${s.label}|ready`, d.ready);
          add(`${c.label}|${s.label}|daemon-secrets`, d.secrets);
        }
      }
    }
    const m = (k: Key): number | undefined => {
      const xs = samples.get(k);
      return xs === undefined ? undefined : median(xs);
    };
    const fmt = (v: number | undefined): string => (v === undefined ? '—' : v.toFixed(0));
    const times = (v: number | undefined): string => (v === undefined ? '—' : `${v.toFixed(2)}×`);
    const where = o.cpus === undefined ? 'every CPU' : `pinned to CPU ${o.cpus} (taskset)`;
    console.log(`Lambda extension cold start, median of ${o.runs} runs (ms); ${process.platform} ${process.arch}, ${where}\n`);
    console.log(
      '| agent | artifact | spawn → `/register` | spawn → first `/v1/secrets` 200 (Lambda) | daemon: spawn → `/v1/ready` 200 | daemon: spawn → first `/v1/secrets` 200 | SHUTDOWN → exit | bare `node -e` start | bare start + one worker thread | bare start + one worker loading node:crypto | `/register` ÷ bare | `/register` ÷ bare with a worker | bare with a crypto worker ÷ bare |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    );
    const rows: Record<string, unknown>[] = [];
    for (const c of candidates) {
      const bare = m(`${c.label}|bare`);
      const floor = m(`${c.label}|floor`);
      const cryptoFloor = m(`${c.label}|crypto-floor`);
      const cryptoFloorOverBare = cryptoFloor !== undefined && bare !== undefined && bare > 0 ? cryptoFloor / bare : undefined;
      for (const s of SCENARIOS) {
        const register = m(`${c.label}|${s.label}|register`);
        const over = (base: number | undefined): number | undefined => (register !== undefined && base !== undefined && base > 0 ? register / base : undefined);
        const ratio = over(bare);
        const overFloor = over(floor);
        const row = {
          agent: c.label,
          artifact: s.label,
          registerMs: register,
          lambdaSecretsMs: m(`${c.label}|${s.label}|lambda-secrets`),
          daemonReadyMs: m(`${c.label}|${s.label}|ready`),
          daemonSecretsMs: m(`${c.label}|${s.label}|daemon-secrets`),
          shutdownMs: m(`${c.label}|${s.label}|shutdown`),
          bareNodeMs: bare,
          bareWithWorkerMs: floor,
          bareWithCryptoWorkerMs: cryptoFloor,
          registerOverBare: ratio,
          registerOverBareWithWorker: overFloor,
          bareWithCryptoWorkerOverBare: cryptoFloorOverBare,
        };
        rows.push(row);
        console.log(
          `| ${c.label} | ${s.label} | ${fmt(row.registerMs)} | ${fmt(row.lambdaSecretsMs)} | ${fmt(row.daemonReadyMs)} | ${fmt(row.daemonSecretsMs)} | ${fmt(row.shutdownMs)} | ${fmt(bare)} | ${fmt(floor)} | ${fmt(cryptoFloor)} | ${times(ratio)} | ${times(overFloor)} | ${times(cryptoFloorOverBare)} |`,
        );
      }
    }
    if (o.json !== undefined)
      writeFileSync(
        o.json,
        `${JSON.stringify({ runs: o.runs, cpus: o.cpus ?? null, at: new Date().toISOString(), rows, samples: Object.fromEntries(samples) }, null, 2)}\n`,
      );
  } finally {
    await http.close();
    await fx.remove();
  }
}

await bench();
