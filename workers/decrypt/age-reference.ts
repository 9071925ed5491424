/**
 * The worker's only import of age-encryption, loaded on demand: the reference for headers outside
 * what age-header.ts decides, and the ASCII-armor decoder. A binary age file for X25519 keys (what
 * `clef-agent pack` writes by default) never loads it, which keeps ~40 ms off a worker's start-up.
 */
import { armor, Decrypter } from 'age-encryption';

export function referenceDecrypter(lines: readonly string[]): Decrypter {
  const d = new Decrypter();
  for (const line of lines) d.addIdentity(line);
  return d;
}

/** The binary age file inside ASCII armor; throws on malformed armor. */
export function decodeArmor(text: string): Uint8Array {
  return armor.decode(text);
}
