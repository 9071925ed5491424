/**
 * Shared fixtures for the `clef-agent pack` tests: throwaway age identities, running the
 * command in-process and as a child process, and decrypting with both age implementations.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Decrypter, armor } from 'age-encryption';
import type { PackedArtifact } from '../../common/artifact.js';
import { runPack } from '../../tools/pack/command.js';
import type { TextSink } from '../../tools/pack/output.js';
import { ageKeyPair, sha256Hex } from '../helpers/artifacts.js';

// The pack tests hash the way every other suite does.
export { sha256Hex };

/** dist/test/pack/ → dist/tools/pack/cli.js */
export const CLI = fileURLToPath(new URL('../../tools/pack/cli.js', import.meta.url));

/** A marker that must never show up in any output when it sits in a payload or argument. */
export const SECRET = 'hunter2-TOP-SECRET-c0ffee';

export const FIELD_ORDER = ['version', 'identity', 'environment', 'packedAt', 'revision', 'ciphertextHash', 'ciphertext'];

export interface AgeKey {
  readonly identity: string;
  readonly recipient: string;
  readonly keyFile: string;
}

/** A throwaway age X25519 identity, also written as an identity file for the reference CLI. */
export async function makeAgeKey(dir: string, name = 'key.txt'): Promise<AgeKey> {
  const { identity, recipient } = await ageKeyPair();
  const keyFile = join(dir, name);
  writeFileSync(keyFile, `# public key: ${recipient}\n${identity}\n`, { mode: 0o600 });
  return { identity, recipient, keyFile };
}

export function writeFile(dir: string, name: string, content: string | Uint8Array): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

export class Collector implements TextSink {
  text = '';
  write(chunk: string, callback: (err?: Error | null) => void): boolean {
    this.text += chunk;
    callback();
    return true;
  }
}

export interface PackResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function runInProcess(argv: readonly string[]): Promise<PackResult> {
  const stdout = new Collector();
  const stderr = new Collector();
  const code = await runPack(argv, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

export function runCli(argv: readonly string[]): PackResult {
  const r = spawnSync(process.execPath, [CLI, ...argv], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The artifact's age file as the agent would hand it to age: base64-decoded (armored text stays text). */
export function ageBytes(artifact: PackedArtifact): Buffer {
  return Buffer.from(artifact.ciphertext, 'base64');
}

/** Decrypt with the reference Go implementation (/usr/bin/age), which reads binary or armored input. */
export function decryptWithAgeCli(keyFile: string, file: Uint8Array): string {
  const r = spawnSync('age', ['-d', '-i', keyFile], { input: file });
  assert.equal(r.status, 0, `age -d failed: ${r.stderr.toString()}`);
  return r.stdout.toString('utf8');
}

export async function decryptWithTypage(identity: string, file: Uint8Array, armored: boolean): Promise<string> {
  const d = new Decrypter();
  d.addIdentity(identity);
  const bytes = armored ? armor.decode(Buffer.from(file).toString('utf8')) : file;
  return d.decrypt(bytes, 'text');
}

/** Parse artifact JSON and check the formatting invariants every pack output must satisfy. */
export function parseArtifact(json: string): PackedArtifact {
  const parsed = JSON.parse(json) as PackedArtifact;
  assert.equal(json, JSON.stringify(parsed, null, 2) + '\n', 'output is JSON.stringify(artifact, null, 2) + "\\n"');
  return parsed;
}

/** `pack` arguments: the payload file, the recipient, `--identity`/`--environment` (default api/prod), then `extra`. */
export function packArgs(o: { payload: string; recipient: string; identity?: string; environment?: string }, ...extra: string[]): string[] {
  return ['--payload', o.payload, '--recipient', o.recipient, '--identity', o.identity ?? 'api', '--environment', o.environment ?? 'prod', ...extra];
}
