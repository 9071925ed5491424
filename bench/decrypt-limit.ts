/**
 * The decryption limit: the agent's own JIT `serve` task ({ type: 'serve', route: 'secrets' }) run
 * back to back in the agent's own pool class (src/pool.ts: piscina on dist/workers/index.js, the
 * same size, queue bound and per-task deadline as the agent), with no HTTP at all. `concurrency`
 * tasks are kept in flight, like the HTTP connections; each body is wiped as the agent does.
 * KMS envelope artifacts are held as JIT mode holds them (workers/decrypt/kms.ts `sealKms`), so
 * every task makes one KMS Decrypt call; this process gets the agent's AWS_* variables for that.
 *
 * Started by the bench (pinned to the agent's cores) as `node decrypt-limit.js <json>` with an IPC
 * channel; says `{ ready: true }`, then answers `{ cmd: 'run', id, seconds }` with `{ id, summary }`
 * (one measurement at a time), and exits when the bench disconnects (or after an hour).
 */
import { readFile } from 'node:fs/promises';
import { createHistogram } from 'node:perf_hooks';
import type { PackedArtifact } from '../common/artifact.js';
import type { EncryptedArtifact } from '../common/protocol.js';
import { DEFAULT_DECRYPT_TIMEOUT_MS, DEFAULT_MAX_QUEUE } from '../src/config/index.js';
import { WorkerPool } from '../src/pool.js';
import { sharedAgeFile } from '../workers/decrypt/age.js';
import { sealKms } from '../workers/decrypt/kms.js';
import type { LoadSummary } from '../tools/loadtest/table.js';

export interface DecryptLimitArgs {
  readonly artifactPath: string;
  /** age artifacts only; a KMS envelope artifact needs no age key. */
  readonly ageKeyFile?: string | undefined;
  readonly workers: number;
  readonly concurrency: number;
}

export interface DecryptLimitRun {
  readonly cmd: 'run';
  readonly id: number;
  readonly seconds: number;
}

export type DecryptLimitSummary = LoadSummary & { readonly bodyBytes: number };

async function measure(pool: WorkerPool, artifact: EncryptedArtifact, concurrency: number, seconds: number): Promise<DecryptLimitSummary> {
  const latencyUs = createHistogram();
  let done = 0;
  let failed = 0;
  let bodyBytes = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const r = await pool.run({ type: 'serve', artifact, request: { route: 'secrets' } }, { deadlineMs: DEFAULT_DECRYPT_TIMEOUT_MS });
      if (r.ok && r.status === 200) {
        done++;
        bodyBytes = r.body.byteLength;
        r.body.fill(0);
        latencyUs.record(Math.max(1, Math.round((performance.now() - t0) * 1000)));
      } else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const elapsed = (performance.now() - start) / 1000;
  return {
    rps: done / elapsed,
    p50Ms: latencyUs.percentile(50) / 1000,
    p99Ms: latencyUs.percentile(99) / 1000,
    maxMs: latencyUs.max / 1000,
    requests: done,
    errors: failed,
    non2xx: 0,
    bodyBytes,
  };
}

/** The artifact as the agent's JIT load keeps it (workers/load.ts `verifyForJit`). */
async function encrypted(packed: PackedArtifact): Promise<EncryptedArtifact> {
  if (packed.envelope !== undefined) {
    const kms = sealKms(packed, { shared: true });
    if ('ok' in kms) throw new Error(kms.message);
    return { ciphertextHash: packed.ciphertextHash, ageFile: new Uint8Array(0), kms };
  }
  const ageFile = await sharedAgeFile(packed);
  if ('ok' in ageFile) throw new Error(ageFile.message);
  return { ciphertextHash: packed.ciphertextHash, ageFile };
}

function isRun(m: unknown): m is DecryptLimitRun {
  return typeof m === 'object' && m !== null && 'cmd' in m && m.cmd === 'run';
}

async function main(): Promise<void> {
  const a = JSON.parse(process.argv[2] ?? '{}') as DecryptLimitArgs;
  const packed = JSON.parse(await readFile(a.artifactPath, 'utf8')) as PackedArtifact;
  const artifact = await encrypted(packed);
  const init = a.ageKeyFile === undefined ? {} : { ageKey: { kind: 'file' as const, path: a.ageKeyFile } };
  const pool = new WorkerPool({ size: a.workers, init, maxQueue: DEFAULT_MAX_QUEUE });
  // One task first, as the agent's first load does: the worker is up and its header cache warm.
  const first = await pool.run({ type: 'serve', artifact, request: { route: 'secrets' } });
  if (!first.ok) throw new Error(first.message);
  let busy = Promise.resolve();
  process.on('message', (m: unknown) => {
    if (!isRun(m)) return;
    busy = busy.then(() =>
      measure(pool, artifact, a.concurrency, m.seconds).then(
        (summary) => void process.send?.({ id: m.id, summary }),
        (err: unknown) => void process.send?.({ id: m.id, error: err instanceof Error ? err.message : String(err) }),
      ),
    );
  });
  process.send?.({ ready: true });
  process.once('disconnect', () => void pool.destroy().finally(() => process.exit(0)));
}

main().catch((err: unknown) => {
  process.send?.({ ready: false, error: err instanceof Error ? err.message : String(err) }, () => process.exit(1));
});
setTimeout(() => process.exit(3), 3600_000).unref();
