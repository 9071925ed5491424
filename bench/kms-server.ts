/**
 * The bench's KMS: the local KMS emulator (emulators/kms-server.ts: AWS JSON 1.1,
 * SigV4 checked on every request, as real KMS does) in a process of its own, so the bench can pin
 * it with the load generator instead of letting it share the agent's core.
 *
 * Started by the bench (bench/lib/kms.ts) as `node kms-server.js` with an IPC channel; makes one
 * symmetric key and says `{ ready: true, endpoint, env, keyId }`; answers `{ cmd: 'stats', id }`
 * with `{ id, stats }` (cumulative counts and this process's CPU time); exits when the bench
 * disconnects (or after two hours, the longest soak allowed).
 */
import { KmsServer } from '../emulators/kms-server.js';

export interface KmsServerReady {
  readonly ready: true;
  readonly endpoint: string;
  /** AWS_* variables that point the real SDK at this server (endpoint, test credentials, region). */
  readonly env: Readonly<Record<string, string>>;
  /** ARN of the symmetric key the bench packs under. */
  readonly keyId: string;
}

export interface KmsServerStats {
  /** KMS Decrypt calls answered with a data key. */
  readonly decrypts: number;
  /** Calls of any operation that ended in an AWS error, plus requests refused before any operation. */
  readonly failures: number;
  /** CPU time of this process (user + system), microseconds. */
  readonly cpuMicros: number;
}

const server = await new KmsServer().start();
const keyId = server.createKey();
let decrypts = 0;
let failures = 0;

/**
 * The test server keeps a record of every call and a copy of every data key it hands out (tests
 * assert on them); under bench load that is thousands a second, so fold them into counters and
 * drop them (wiping the key copies) instead of letting them grow for the whole run.
 */
function drain(): void {
  for (const c of server.calls) {
    if (c.outcome !== 'ok') failures++;
    else if (c.op === 'Decrypt') decrypts++;
  }
  server.calls.length = 0;
  failures += server.refused.length;
  server.refused.length = 0;
  for (const k of server.handedOut) k.fill(0);
  server.handedOut.length = 0;
}
setInterval(drain, 1_000).unref();

function isStats(m: unknown): m is { cmd: 'stats'; id: number } {
  return typeof m === 'object' && m !== null && 'cmd' in m && m.cmd === 'stats' && 'id' in m && typeof m.id === 'number';
}

process.on('message', (m: unknown) => {
  if (!isStats(m)) return;
  drain();
  const cpu = process.cpuUsage();
  process.send?.({ id: m.id, stats: { decrypts, failures, cpuMicros: cpu.user + cpu.system } satisfies KmsServerStats });
});
process.once('disconnect', () => void server.close().finally(() => process.exit(0)));
process.send?.({ ready: true, endpoint: server.endpoint, env: server.env(), keyId } satisfies KmsServerReady);
setTimeout(() => process.exit(3), 2 * 3600_000).unref();
