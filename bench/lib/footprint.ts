/**
 * Footprint (issue 14): what one agent costs per pod, beside a bare Node process started the same
 * way in the same run (same Node, same CPU: the agent's one-core budget when pinned).
 *
 * - Start-up: spawn → `listening` and spawn → ready (the `artifact.refreshed` log line, then
 *   `/v1/ready` confirmed 200) for an age artifact from a file and over HTTP, and a KMS artifact over
 *   HTTP (through the bench's local KMS server); the bare start is spawn → first output of
 *   `node -e "process.stdout.write('up')"`. Candidates take turns, medians reported.
 * - Idle RSS: the whole process (main thread and workers) `IDLE_MS` after ready, when a cached
 *   agent's idle worker has exited (IDLE_WORKER_EXIT_MS), and `WARM_MS` after ready, when it is
 *   still up (what a poll costs), beside a bare `node` that only idles; anonymous and file-backed
 *   parts apart (file-backed pages are the node binary's code, shared through the page cache by
 *   every process running the same binary).
 *
 * Every agent runs the shipped build (the production bundle, scripts/build-prod.mjs); the tsc build
 * is measured beside it for information. Measured, never asserted.
 */
import type { ChildProcess } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { EncryptionKind, Fixtures } from './fixtures.js';
import type { Pinning } from './machine.js';
import { median } from './measure.js';
import { bundleFile, distFile, eachLogLine, get, spawnNode, spawnNodeEval, stopChild } from './proc.js';
import { IDLE_WORKER_EXIT_MS } from '../../common/limits.js';

/** After ready: start-up garbage collected, the worker of a cached agent still up. */
const WARM_MS = 2_000;
/** After ready: a cached agent's idle worker has exited (IDLE_WORKER_EXIT_MS + margin); no poll yet (30 s). */
const IDLE_MS = IDLE_WORKER_EXIT_MS + 3_000;
const START_TIMEOUT_MS = 30_000;

export type Build = 'bundle' | 'tsc';

export interface FootprintCandidate {
  readonly label: string;
  readonly kind: EncryptionKind;
  readonly source: 'file' | 'http';
  readonly build: Build;
  readonly mode: 'cached' | 'jit';
}

export interface StartupResult {
  readonly label: string;
  readonly kind: EncryptionKind;
  readonly source: 'file' | 'http';
  readonly build: Build;
  readonly listeningMs: number;
  readonly readyMs: number;
  readonly samples: number;
}

export interface RssResult {
  readonly label: string;
  readonly kind: EncryptionKind | 'bare';
  readonly source?: 'file' | 'http' | undefined;
  readonly build?: Build | undefined;
  readonly mode?: 'cached' | 'jit' | undefined;
  /** `settleMs` after ready. */
  readonly rssMiB: number;
  readonly anonMiB: number;
  readonly fileMiB: number;
  /** `warmMs` after ready (a cached agent's worker still up). */
  readonly warmRssMiB: number;
}

export interface FootprintResult {
  /** Median spawn → first output of a bare `node -e`. */
  readonly bareStartMs: number;
  /** Median spawn → a bare `node -e` hears from one worker thread it started (the design's floor). */
  readonly bareWorkerStartMs: number;
  readonly startup: readonly StartupResult[];
  /** The bare idle process first, then each candidate. */
  readonly rss: readonly RssResult[];
  readonly settleMs: number;
  readonly warmMs: number;
}

export const FOOTPRINT_CANDIDATES: readonly FootprintCandidate[] = [
  { label: 'cached, age, file source', kind: 'age', source: 'file', build: 'bundle', mode: 'cached' },
  { label: 'cached, age, HTTP source', kind: 'age', source: 'http', build: 'bundle', mode: 'cached' },
  { label: 'cached, KMS, HTTP source', kind: 'kms', source: 'http', build: 'bundle', mode: 'cached' },
  { label: 'JIT, age, HTTP source', kind: 'age', source: 'http', build: 'bundle', mode: 'jit' },
  { label: 'cached, age, HTTP source, tsc build', kind: 'age', source: 'http', build: 'tsc', mode: 'cached' },
];

const PATH = process.env['PATH'] ?? '/usr/bin:/bin';

function mainScript(build: Build): string {
  return build === 'bundle' ? bundleFile('src/main.js') : distFile('src/main.js');
}

/** A bare start: `node -e` writes at once. */
const BARE = "process.stdout.write('up')";
/** The floor of the agent's design: a bare start plus one worker thread that answers once started. */
const BARE_WORKER =
  "const { Worker } = require('node:worker_threads'); new Worker(\"require('node:worker_threads').parentPort.postMessage(0)\", { eval: true }).once('message', () => { process.stdout.write('up'); process.exit(0); });";

/** Milliseconds from spawn to the first byte a bare `node -e` writes. */
async function bareStart(cpus: string | undefined, script = BARE): Promise<number> {
  const t0 = performance.now();
  const child = spawnNodeEval(script, { cpus, pipe: true, env: { PATH } });
  const ms = await new Promise<number>((resolve, reject) => {
    child.stdout?.once('data', () => resolve(performance.now() - t0));
    child.once('error', reject);
  });
  await new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r(undefined)));
  return ms;
}

interface Started {
  readonly child: ChildProcess;
  readonly listeningMs: number;
  readonly readyMs: number;
}

/** Starts an agent and times its `listening` and `artifact.refreshed` log lines from spawn. */
async function startTimed(script: string, env: Readonly<Record<string, string>>, cpus: string | undefined): Promise<Started> {
  const t0 = performance.now();
  const child = spawnNode(script, [], { cpus, pipe: true, env: { PATH, CLEF_AGENT_PORT: '0', CLEF_AGENT_LOG_LEVEL: 'info', ...env } });
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-2000)));
  try {
    const seen = await new Promise<{ port: number; listeningMs: number; readyMs: number }>((resolve, reject) => {
      let port: number | undefined;
      let listeningMs = 0;
      const timer = setTimeout(() => reject(new Error(`agent not ready after ${START_TIMEOUT_MS} ms\n${stderr}`)), START_TIMEOUT_MS);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`agent exited (${code ?? 'signal'}) before it was ready\n${stderr}`));
      });
      eachLogLine<{ event?: string; port?: number }>(child, (log, at) => {
        if (log.event === 'listening' && typeof log.port === 'number') {
          port = log.port;
          listeningMs = at - t0;
        }
        if (log.event === 'artifact.refreshed' && port !== undefined) {
          clearTimeout(timer);
          resolve({ port, listeningMs, readyMs: at - t0 });
        }
      });
    });
    child.stdout?.resume();
    const ready = await get(seen.port, '/v1/ready');
    if (ready.status !== 200) throw new Error(`agent logged artifact.refreshed but /v1/ready answered ${ready.status}`);
    return { child, listeningMs: seen.listeningMs, readyMs: seen.readyMs };
  } catch (err) {
    await stopChild(child);
    throw err;
  }
}

/** VmRSS, RssAnon and RssFile of a process, in MiB (Linux). */
async function rssOf(pid: number): Promise<{ rssMiB: number; anonMiB: number; fileMiB: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMiB: kib('VmRSS') / 1024, anonMiB: kib('RssAnon') / 1024, fileMiB: kib('RssFile') / 1024 };
}

/** Serves the artifacts over HTTP from the bench process (on the load side's CPU). */
async function artifactServer(fx: Fixtures): Promise<{ server: Server; url: (kind: EncryptionKind) => string }> {
  const bodies = new Map<string, Buffer>();
  for (const kind of ['age', 'kms'] as const) {
    if (kind === 'kms' && fx.kms === undefined) continue;
    bodies.set(`/${kind}.json`, await readFile(fx.get(kind, 10).artifactPath));
  }
  const server = createServer((req, res) => {
    const body = bodies.get(req.url ?? '');
    res.writeHead(body === undefined ? 404 : 200, { 'content-type': 'application/json' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return { server, url: (kind) => `http://127.0.0.1:${port}/${kind}.json` };
}

export async function runFootprint(pinning: Pinning, fx: Fixtures, runs: number, log: (line: string) => void): Promise<FootprintResult> {
  const cpus = pinning.agentCpus;
  const { server, url } = await artifactServer(fx);
  const candidates = FOOTPRINT_CANDIDATES.filter((c) => c.kind !== 'kms' || fx.kms !== undefined);
  const envOf = (c: FootprintCandidate): Record<string, string> => {
    const f = fx.get(c.kind, 10);
    return { ...f.env, CLEF_AGENT_CACHE_TTL: c.mode === 'jit' ? '0' : '300', ...(c.source === 'http' ? { CLEF_AGENT_SOURCE: url(c.kind) } : {}) };
  };
  try {
    log(`footprint: spawn to listening and to ready, ${runs} runs per candidate, beside a bare node start`);
    const bare: number[] = [];
    const bareWorker: number[] = [];
    const times = new Map<FootprintCandidate, { listening: number[]; ready: number[] }>(candidates.map((c) => [c, { listening: [], ready: [] }]));
    // One unmeasured round warms the page cache for every file a candidate reads.
    for (let i = -1; i < runs; i++) {
      const b = await bareStart(cpus);
      const bw = await bareStart(cpus, BARE_WORKER);
      if (i >= 0) bare.push(b);
      if (i >= 0) bareWorker.push(bw);
      for (const c of candidates) {
        const s = await startTimed(mainScript(c.build), envOf(c), cpus);
        await stopChild(s.child);
        if (i < 0) continue;
        times.get(c)?.listening.push(s.listeningMs);
        times.get(c)?.ready.push(s.readyMs);
      }
    }
    const startup = candidates.map((c) => ({
      label: c.label,
      kind: c.kind,
      source: c.source,
      build: c.build,
      listeningMs: median(times.get(c)?.listening ?? []),
      readyMs: median(times.get(c)?.ready ?? []),
      samples: runs,
    }));

    log(`footprint: RSS ${WARM_MS / 1000} s and ${IDLE_MS / 1000} s after ready, beside a bare node that only idles (agents side by side)`);
    const idle = spawnNodeEval('setInterval(() => {}, 1 << 30)', { cpus, env: { PATH } });
    const started: Started[] = [];
    try {
      // Side by side, one at a time to ready (each start on a quiet CPU), then read together.
      for (const c of candidates) started.push(await startTimed(mainScript(c.build), envOf(c), cpus));
      const t0 = performance.now();
      await sleep(WARM_MS);
      const warm = await Promise.all(started.map((s) => rssOf(s.child.pid ?? 0)));
      await sleep(IDLE_MS - (performance.now() - t0));
      const bareRss = await rssOf(idle.pid ?? 0);
      const rss: RssResult[] = [{ label: 'bare node (idle)', kind: 'bare', ...bareRss, warmRssMiB: bareRss.rssMiB }];
      for (const [i, c] of candidates.entries()) {
        const now = await rssOf(started[i]?.child.pid ?? 0);
        rss.push({ label: c.label, kind: c.kind, source: c.source, build: c.build, mode: c.mode, ...now, warmRssMiB: warm[i]?.rssMiB ?? Number.NaN });
      }
      return { bareStartMs: median(bare), bareWorkerStartMs: median(bareWorker), startup, rss, settleMs: IDLE_MS, warmMs: WARM_MS };
    } finally {
      await Promise.all([stopChild(idle), ...started.map((s) => stopChild(s.child))]);
    }
  } finally {
    await new Promise((r) => server.close(r));
  }
}
