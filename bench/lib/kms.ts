/**
 * The bench's side of bench/kms-server.ts: starts it (pinned with the load generator, so the JIT
 * KMS figures measure the agent and not a KMS server sharing its core), hands out an SDK client for
 * packing, and reads the server's counters around each measurement.
 */
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { KMSClient } from '@aws-sdk/client-kms';
import { KMS_TEST_CREDENTIALS, KMS_TEST_REGION } from '../../emulators/kms-server.js';
import type { KmsServerReady, KmsServerStats } from '../kms-server.js';
import { distFile, nextMessage, spawnNode, stopChild } from './proc.js';

/** Between measurements: no KMS call for this long means the previous load has drained. */
const QUIET_MS = 100;
const QUIET_MAX_MS = 10_000;

export interface KmsUse {
  /** KMS Decrypt calls answered during the window. */
  readonly decrypts: number;
  /** Failed or refused KMS calls during the window. */
  readonly failures: number;
  /** CPU of the KMS server process during the window (1 = one core busy). */
  readonly cpuCores: number;
}

export class BenchKms {
  private nextId = 1;

  private constructor(
    private readonly child: ChildProcess,
    readonly ready: KmsServerReady,
  ) {}

  static async start(cpus: string | undefined): Promise<BenchKms> {
    const child = spawnNode(distFile('bench/kms-server.js'), [], { cpus });
    try {
      const ready = await nextMessage(
        child,
        (m) => (typeof m === 'object' && m !== null && 'ready' in m && m.ready === true ? (m as KmsServerReady) : undefined),
        15_000,
        'KMS server',
      );
      return new BenchKms(child, ready);
    } catch (err) {
      await stopChild(child);
      throw err;
    }
  }

  /** AWS_* variables for an agent (or the decryption limit) to reach this server through the real SDK. */
  get env(): Readonly<Record<string, string>> {
    return this.ready.env;
  }

  get keyId(): string {
    return this.ready.keyId;
  }

  /** An SDK client for packing; the bench's own environment is left alone. */
  client(): KMSClient {
    return new KMSClient({ endpoint: this.ready.endpoint, region: KMS_TEST_REGION, credentials: KMS_TEST_CREDENTIALS, maxAttempts: 1 });
  }

  async stats(): Promise<KmsServerStats> {
    const id = this.nextId++;
    this.child.send({ cmd: 'stats', id });
    const pick = (m: unknown): KmsServerStats | undefined =>
      typeof m === 'object' && m !== null && 'id' in m && m.id === id && 'stats' in m ? (m.stats as KmsServerStats) : undefined;
    return nextMessage(this.child, pick, 5_000, 'KMS server stats');
  }

  /**
   * Runs `during` and reports what the KMS server did meanwhile; then waits until KMS calls stop.
   * A JIT agent keeps answering the requests that were in flight when the load generator stopped
   * (up to one per connection, each a KMS round trip, queued behind each other in its pool); left
   * alone, that tail would run on the agent's core during the next measurement.
   */
  async around<T>(during: () => Promise<T>): Promise<{ result: T; kms: KmsUse }> {
    const before = await this.stats();
    const t0 = performance.now();
    const result = await during();
    const wallMs = performance.now() - t0;
    const after = await this.stats();
    await this.quiet(after.decrypts);
    return {
      result,
      kms: {
        decrypts: after.decrypts - before.decrypts,
        failures: after.failures - before.failures,
        cpuCores: (after.cpuMicros - before.cpuMicros) / 1000 / wallMs,
      },
    };
  }

  /** Resolves once no KMS Decrypt call has arrived for QUIET_MS (at most QUIET_MAX_MS). */
  private async quiet(decrypts: number): Promise<void> {
    const until = performance.now() + QUIET_MAX_MS;
    let last = decrypts;
    while (performance.now() < until) {
      await sleep(QUIET_MS);
      const now = (await this.stats()).decrypts;
      if (now === last) return;
      last = now;
    }
  }

  stop(): Promise<void> {
    if (this.child.connected) this.child.disconnect();
    return stopChild(this.child);
  }
}
