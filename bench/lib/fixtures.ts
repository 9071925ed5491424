/**
 * Everything the bench needs, made fresh in a temp directory each run: an age identity (key file,
 * 0600), an Ed25519 signing key (the recommended set-up: the agent verifies every artifact), and
 * one signed artifact per payload size, built with `packArtifact` as `clef-agent pack` would.
 *
 * Encryption kinds: `age` now. KMS artifacts (SPEC §2 `envelope`) land with the KMS issue; their
 * fixture will start a local KMS server on 127.0.0.1, pack with an envelope, and point the agent at
 * it with AWS_ENDPOINT_URL_KMS. Adding it here is the only change the scenario matrix needs:
 * `KINDS` lists what runs, and every report column is per kind.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateIdentity, identityToRecipient } from 'age-encryption';
import { packArtifact } from '../../pack/index.js';

/** Encryption kinds the bench knows how to set up. Add 'kms' with the KMS issue. */
export type EncryptionKind = 'age';
export const KINDS: readonly EncryptionKind[] = ['age'];

export interface KindFixture {
  readonly kind: EncryptionKind;
  readonly keys: number;
  readonly artifactPath: string;
  /** CLEF_AGENT_* variables that select this artifact and its key (plus the verify key). */
  readonly env: Readonly<Record<string, string>>;
  readonly plaintextBytes: number;
}

export interface Fixtures {
  readonly dir: string;
  /** Bearer token of every bench agent (random per run). */
  readonly token: string;
  readonly ageKeyFile: string;
  get(kind: EncryptionKind, keys: number): KindFixture;
  remove(): Promise<void>;
}

/** `n` namespaced keys with random values, the same shape as bench/decrypt-micro.ts uses. */
export function benchPayload(n: number): { app: Record<string, string> } {
  const app: Record<string, string> = {};
  for (let i = 0; i < n; i++) app[`SECRET_${i}_${randomBytes(4).toString('hex')}`] = randomBytes(24).toString('base64');
  return { app };
}

export async function makeFixtures(sizes: readonly number[]): Promise<Fixtures> {
  const dir = await mkdtemp(join(tmpdir(), 'clef-bench-'));
  // Even when a run is cut short (watchdog, Ctrl-C), the throwaway key does not outlive it.
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  const identity = await generateIdentity();
  const recipient = await identityToRecipient(identity);
  const ageKeyFile = join(dir, 'age.key');
  await writeFile(ageKeyFile, `# clef-agent bench identity (throwaway)\n${identity}\n`, { mode: 0o600 });
  const { privateKey } = generateKeyPairSync('ed25519');
  const token = randomBytes(32).toString('hex');

  const all = new Map<string, KindFixture>();
  for (const keys of sizes) {
    const payload = benchPayload(keys);
    const packed = await packArtifact({ payload, recipients: [recipient], identity: 'bench', environment: 'bench', signingKey: privateKey });
    const artifactPath = join(dir, `age-${keys}.json`);
    await writeFile(artifactPath, packed.json, { mode: 0o600 });
    all.set(`age/${keys}`, {
      kind: 'age',
      keys,
      artifactPath,
      env: {
        CLEF_AGENT_SOURCE: artifactPath,
        CLEF_AGENT_AGE_KEY_FILE: ageKeyFile,
        CLEF_AGENT_VERIFY_KEY: packed.verifyKey ?? '',
        CLEF_AGENT_TOKEN: token,
      },
      plaintextBytes: Buffer.byteLength(JSON.stringify(payload)),
    });
  }
  return {
    dir,
    token,
    ageKeyFile,
    get: (kind, keys) => {
      const f = all.get(`${kind}/${keys}`);
      if (f === undefined) throw new Error(`no fixture for ${kind}/${keys}`);
      return f;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
