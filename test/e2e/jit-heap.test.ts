/**
 * Key isolation (SPEC §5.2 "no plaintext secret is held between requests"): heap
 * snapshots of the agent's MAIN thread, after a forced GC, (1) after the first load, (2) after a
 * burst of JIT requests on every route and key form, (3) after revocation. None may contain a
 * secret value or the age secret key. The agent runs in a probe child process
 * (test/helpers/jit-heap-probe.ts, `--expose-gc`) exactly as main.ts starts it; this test process
 * drives the requests, so response strings live only in this process's heap, never the probe's.
 *
 * Method limits, checked by the control run: V8 heap snapshots list every reachable string (a
 * string longer than 1024 characters only by its first 1024), and never the bytes of
 * ArrayBuffers/Buffers. The payload is kept small (the whole /v1/secrets body < 1 KiB) so any
 * string holding a body would be visible whole; the control probe deliberately keeps a sentinel
 * and fetched response bodies as strings, and the same search must find them.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ArtifactServer } from '../../emulators/artifact-server.js';
import { ageKeyPair, artifactJson, type AgeKeyPair } from '../helpers/artifacts.js';
import { request, suiteTempDirs, waitUntil } from '../kit/index.js';
import { bounded } from '../helpers/jit-agent.js';

const PROBE = fileURLToPath(new URL('../helpers/jit-heap-probe.js', import.meta.url));
const TOKEN = randomBytes(32).toString('hex');
const rand = (): string => randomBytes(12).toString('hex');

/** Small on purpose (see the header comment); every value unique to this run. */
const PAYLOAD = {
  app: { DATABASE_URL: `postgres://heap:${rand()}@db/app`, API_KEY: `hk-${rand()}`, TOKEN_X: `tx-${rand()}` },
  payments: { API_KEY: `pk-${rand()}`, STRIPE_KEY: `sk-${rand()}` },
};
const REVISION = `rev-heap-${rand()}`;
const VALUES = Object.values(PAYLOAD).flatMap((ns) => Object.values(ns));
const BURST_PATHS = [
  '/v1/secrets',
  '/v1/keys',
  '/v1/secrets/app__API_KEY',
  '/v1/secrets/app/DATABASE_URL',
  '/v1/secrets/payments%2FSTRIPE_KEY',
  '/v1/secrets/TOKEN_X',
  '/v1/secrets/API_KEY',
  '/v1/secrets/NOPE',
];

interface ProbeMessage {
  readonly type: string;
  readonly [k: string]: unknown;
}

class Probe {
  readonly child: ChildProcess;
  private readonly inbox: ProbeMessage[] = [];
  private wake: (() => void) | undefined;
  stderr = '';

  constructor(env: Record<string, string>) {
    this.child = fork(PROBE, [], {
      execArgv: ['--expose-gc'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', CLEF_AGENT_PORT: '0', CLEF_AGENT_LOG_LEVEL: 'silent', ...env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    this.child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.child.on('message', (m: ProbeMessage) => {
      this.inbox.push(m);
      this.wake?.();
    });
    this.child.on('exit', () => this.wake?.());
  }

  /** The next message of `type` (an `error` message or an exit rejects). */
  async next(type: string, timeoutMs = 30_000): Promise<ProbeMessage> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((m) => m.type === type || m.type === 'error');
      if (i >= 0) {
        const [m] = this.inbox.splice(i, 1) as [ProbeMessage];
        if (m.type === 'error') throw new Error(`probe error: ${String(m['message'])}\n${this.stderr}`);
        return m;
      }
      if (this.child.exitCode !== null || this.child.signalCode !== null)
        throw new Error(`probe exited (${this.child.exitCode ?? this.child.signalCode})\n${this.stderr}`);
      if (Date.now() > end) throw new Error(`no "${type}" from the probe within ${timeoutMs} ms\n${this.stderr}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 200);
        this.wake = () => {
          clearTimeout(timer);
          r();
        };
      });
    }
  }

  ask(message: Record<string, unknown>, reply: string): Promise<ProbeMessage> {
    this.child.send(message);
    return this.next(reply);
  }

  /** A heap snapshot of the probe's main thread after forced GC: its strings; the file is deleted at once. */
  async strings(label: string, dir: string): Promise<string[]> {
    const m = await this.ask({ type: 'snapshot', label, dir }, 'snapshot');
    const path = String(m['path']);
    try {
      return (JSON.parse(readFileSync(path, 'utf8')) as { strings: string[] }).strings;
    } finally {
      unlinkSync(path);
    }
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    const kill = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
    if (this.child.connected) this.child.send({ type: 'close' });
    else this.child.kill('SIGTERM');
    await exited;
    clearTimeout(kill);
  }
}

/** What must never be in the main thread's heap: every secret value, and the age key in any case or part. */
function forbidden(key: AgeKeyPair): Map<string, string> {
  const body = key.identity.slice('AGE-SECRET-KEY-1'.length);
  const m = new Map<string, string>([
    ['age secret key', key.identity],
    ['age secret key (lower case)', key.identity.toLowerCase()],
    ['age secret key data', body],
    ['age secret key data (lower case)', body.toLowerCase()],
    ['age secret key data, middle 20', body.slice(20, 40)],
    ['age secret key data, middle 20 (lower case)', body.slice(20, 40).toLowerCase()],
  ]);
  for (const [ns, keys] of Object.entries(PAYLOAD)) for (const [k, v] of Object.entries(keys)) m.set(`${ns}/${k}`, v);
  return m;
}

function found(strings: readonly string[], needle: string): number {
  let n = 0;
  for (const s of strings) if (s.includes(needle)) n++;
  return n;
}

function assertAbsent(strings: readonly string[], key: AgeKeyPair, label: string): void {
  assert.ok(strings.length > 1_000, `${label}: a real snapshot (${strings.length} strings)`);
  for (const [what, needle] of forbidden(key)) assert.equal(found(strings, needle), 0, `${label}: ${what} is in the main thread's heap`);
}

async function burst(port: number): Promise<number> {
  const results = await bounded(240, 8, (i) => {
    const path = BURST_PATHS[i % BURST_PATHS.length] as string;
    const variant = Math.floor(i / BURST_PATHS.length) % 3;
    return request(port, path, { token: TOKEN, ...(variant === 1 ? { headers: { accept: 'text/plain' } } : variant === 2 ? { method: 'HEAD' } : {}) });
  });
  for (const r of results) assert.ok([200, 404, 409].includes(r.status), `burst status ${r.status} ${r.body.slice(0, 80)}`);
  return results.filter((r) => r.status === 200).length;
}

describe('JIT key isolation: heap snapshots of the JIT agent main thread hold no secret value and no age key', { timeout: 150_000 }, () => {
  const dir = suiteTempDirs('clef-jit-heap-').make();
  let server: ArtifactServer;
  let key: AgeKeyPair;
  const probes: Probe[] = [];

  before(async () => {
    key = await ageKeyPair();
    server = await new ArtifactServer().start();
    server.body = await artifactJson({ recipient: key.recipient, payload: PAYLOAD, revision: REVISION, packedAt: new Date(Date.now() - 60_000).toISOString() });
    assert.ok(Buffer.byteLength(JSON.stringify(PAYLOAD)) < 1_000, 'the /v1/secrets body fits in one snapshot string');
  });
  after(async () => {
    await Promise.all(probes.map((p) => p.close()));
    await server?.close();
  });

  const baseEnv = (): Record<string, string> => ({
    CLEF_AGENT_SOURCE: server.url(),
    CLEF_AGENT_TOKEN: TOKEN,
    CLEF_AGENT_CACHE_TTL: '0',
    CLEF_AGENT_POLL_INTERVAL: '5',
    CLEF_AGENT_WORKERS: '2',
  });
  const start = async (env: Record<string, string>): Promise<{ probe: Probe; config: ProbeMessage; port: number }> => {
    const probe = new Probe(env);
    probes.push(probe);
    const config = await probe.next('config');
    const port = (await probe.next('ready'))['port'] as number;
    return { probe, config, port };
  };

  it('JIT: control: the snapshot search finds strings the probe deliberately keeps (a sentinel and fetched response bodies)', { timeout: 60_000 }, async () => {
    const { probe } = await start({ ...baseEnv(), CLEF_AGENT_AGE_KEY: key.identity });
    const sentinel = `SENTINEL-${rand()}`;
    await probe.ask({ type: 'keep', value: sentinel }, 'kept');
    await probe.ask({ type: 'fetchAndKeep', path: '/v1/secrets' }, 'kept');
    await probe.ask({ type: 'fetchAndKeep', path: '/v1/secrets/payments__STRIPE_KEY', accept: 'text/plain' }, 'kept');
    const strings = await probe.strings('control', dir);
    assert.ok(found(strings, sentinel) > 0, 'the kept sentinel is found');
    for (const v of VALUES) assert.ok(found(strings, v) > 0, `a value inside a kept response body is found (${v.slice(0, 6)}…)`);
    assert.ok(found(strings, REVISION) > 0, 'agent state (the revision) is in the snapshot');
  });

  it(
    'JIT: CLEF_AGENT_AGE_KEY inline: removed from process.env, not inherited by child processes, not in the config, and never in the main heap after load, a request burst, or revocation',
    { timeout: 60_000 },
    async () => {
      const { probe, config, port } = await start({ ...baseEnv(), CLEF_AGENT_AGE_KEY: key.identity });
      assert.equal(config['envHasKey'], false, 'process.env.CLEF_AGENT_AGE_KEY is gone after loadConfig');
      assert.equal(config['childSees'], 'undefined', 'a child process does not inherit the key');
      assert.equal(config['sealedBytes'], Buffer.byteLength(key.identity), 'the sealed key is the key bytes');
      assert.equal(config['sealedBackingBytes'], config['sealedBytes'], 'workers are handed the key alone, not a shared buffer-pool slab around it');
      for (const field of ['configJson', 'configInspect'] as const) {
        const text = String(config[field]);
        assert.ok(text.length > 100, field);
        for (const [what, needle] of forbidden(key)) if (what.startsWith('age')) assert.ok(!text.includes(needle), `${field} contains the ${what}`);
      }

      const loaded = await probe.strings('loaded', dir);
      assertAbsent(loaded, key, 'after the first load');
      assert.ok(found(loaded, REVISION) > 0, "sanity: the loaded artifact's revision is in the snapshot");

      const ok = await burst(port);
      assert.ok(ok >= 100, `the burst was served (${ok} × 200)`);
      const afterBurst = await probe.strings('burst', dir);
      assertAbsent(afterBurst, key, 'after a burst of JIT requests');

      const revokedAt = new Date().toISOString();
      server.body = JSON.stringify({ ...(JSON.parse(server.body) as object), revokedAt });
      await waitUntil(async () => (await request(port, '/v1/ready')).status === 503 || undefined, 30_000, 'revoked');
      assert.deepEqual((await request(port, '/v1/secrets', { token: TOKEN })).json<{ reason: string }>().reason, 'revoked');
      const revoked = await probe.strings('revoked', dir);
      assertAbsent(revoked, key, 'after revocation');
      assert.ok(found(revoked, revokedAt) > 0, 'sanity: the revocation time is in the snapshot');
    },
  );

  it(
    'JIT: CLEF_AGENT_AGE_KEY_FILE: the main thread never reads the key file; neither key nor values in its heap after a burst',
    { timeout: 60_000 },
    async () => {
      const keyFile = join(dir, 'age.key');
      writeFileSync(keyFile, `# created: test\n${key.identity}\n`, { mode: 0o600 });
      // The previous test revoked the served artifact: serve a later, valid one.
      server.body = await artifactJson({ recipient: key.recipient, payload: PAYLOAD, revision: REVISION });
      const { probe, config, port } = await start({ ...baseEnv(), CLEF_AGENT_AGE_KEY_FILE: keyFile });
      assert.ok(String(config['configJson']).includes(keyFile), 'the config holds the path');
      const ok = await burst(port);
      assert.ok(ok >= 100, `the burst was served (${ok} × 200)`);
      assertAbsent(await probe.strings('file-burst', dir), key, 'key file, after a burst');
    },
  );
});
