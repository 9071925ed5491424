/**
 * Everything the bench needs, made fresh in a temp directory each run: an age identity (key file,
 * 0600), an Ed25519 signing key (the recommended set-up: the agent verifies every artifact), and
 * one signed artifact per encryption kind and payload size, built with `packArtifact` as
 * `clef-agent pack` would. Both kinds of a size carry the same payload, so their bodies are the
 * same bytes (one HTTP limit per size serves both).
 *
 * Encryption kinds: `age` (key file) and `kms` (SPEC §2 `envelope`): for KMS a local KMS server
 * (bench/kms-server.ts, the test suite's server in its own process, pinned with the load
 * generator) makes a symmetric key, the artifact is packed through it (GenerateDataKey, as
 * `clef-agent pack --kms-key-id` does), and the agent reaches it through AWS_ENDPOINT_URL_KMS.
 * `KINDS` lists what runs, and every report column is per kind.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { packArtifact } from '../../tools/pack/index.js';
import { BenchKms } from './kms.js';

/** Encryption kinds the bench knows how to set up. */
export type EncryptionKind = 'age' | 'kms';
export const KINDS: readonly EncryptionKind[] = ['age', 'kms'];

export interface KindFixture {
  readonly kind: EncryptionKind;
  readonly keys: number;
  readonly artifactPath: string;
  /** The agent's variables: CLEF_AGENT_* (artifact, key, verify key, token) and `workerEnv`. */
  readonly env: Readonly<Record<string, string>>;
  /** What the pool's workers read from the environment themselves (KMS: the AWS_* variables); the decryption limit needs it too. */
  readonly workerEnv: Readonly<Record<string, string>>;
  readonly plaintextBytes: number;
}

export interface Fixtures {
  readonly dir: string;
  /** Bearer token of every bench agent (random per run). */
  readonly token: string;
  readonly ageKeyFile: string;
  /** The local KMS server, when `kms` is among the kinds. */
  readonly kms: BenchKms | undefined;
  get(kind: EncryptionKind, keys: number): KindFixture;
  /** Stops the KMS server (idempotent); `remove()` does it too. */
  stopServers(): Promise<void>;
  remove(): Promise<void>;
}

export interface FixtureOptions {
  readonly kinds: readonly EncryptionKind[];
  /** `taskset -c` CPU list for the KMS server: the load generator's. */
  readonly kmsCpus: string | undefined;
}

/** `n` namespaced keys with random values, the same shape as bench/decrypt-micro.ts uses. */
export function benchPayload(n: number): { app: Record<string, string> } {
  const app: Record<string, string> = {};
  for (let i = 0; i < n; i++) app[`SECRET_${i}_${randomBytes(4).toString('hex')}`] = randomBytes(24).toString('base64');
  return { app };
}

export async function makeFixtures(sizes: readonly number[], o: FixtureOptions): Promise<Fixtures> {
  const dir = await mkdtemp(join(tmpdir(), 'clef-bench-'));
  // Even when a run is cut short (watchdog, Ctrl-C), the throwaway key does not outlive it.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const ageKeyFile = join(dir, 'age.key');
  await writeFile(ageKeyFile, `# clef-agent bench identity (throwaway)\n${identity}\n`, { mode: 0o600 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const token = randomBytes(32).toString('hex');
  const kms = o.kinds.includes('kms') ? await BenchKms.start(o.kmsCpus) : undefined;
  const kmsClient = kms?.client();

  const all = new Map<string, KindFixture>();
  try {
    for (const keys of sizes) {
      const payload = benchPayload(keys);
      for (const kind of o.kinds) {
        const packed = await packArtifact({
          payload,
          ...(kind === 'kms' ? { kmsKeyId: kms?.keyId, kmsClient } : { recipients: [recipient] }),
          identity: 'bench',
          environment: 'bench',
          signingKey: privateKey,
        });
        const artifactPath = join(dir, `${kind}-${keys}.json`);
        await writeFile(artifactPath, packed.json, { mode: 0o600 });
        const workerEnv = kind === 'kms' ? (kms?.env ?? {}) : {};
        all.set(`${kind}/${keys}`, {
          kind,
          keys,
          artifactPath,
          env: {
            CLEF_AGENT_SOURCE: artifactPath,
            ...(kind === 'age' ? { CLEF_AGENT_AGE_KEY_FILE: ageKeyFile } : {}),
            CLEF_AGENT_VERIFY_KEY: packed.verifyKey ?? '',
            CLEF_AGENT_TOKEN: token,
            ...workerEnv,
          },
          workerEnv,
          plaintextBytes: Buffer.byteLength(JSON.stringify(payload)),
        });
      }
    }
  } catch (err) {
    await kms?.stop();
    throw err;
  } finally {
    kmsClient?.destroy();
  }
  const stopServers = async (): Promise<void> => {
    await kms?.stop();
  };
  return {
    dir,
    token,
    ageKeyFile,
    kms,
    get: (kind, keys) => {
      const f = all.get(`${kind}/${keys}`);
      if (f === undefined) throw new Error(`no fixture for ${kind}/${keys}`);
      return f;
    },
    stopServers,
    remove: async () => {
      await stopServers();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
