/**
 * The worker's age identities (`AGE-SECRET-KEY-1…`, X25519): each as an OpenSSL key for
 * age-header.ts, plus age-encryption's `Decrypter` over the same lines, built only when a header
 * falls outside what age-header.ts decides (age-reference.ts loads the library then).
 *
 * An identity line is accepted exactly when age-encryption's `Decrypter.addIdentity` accepts it:
 * the same bech32 decoder (@scure/base, the library's own), the same prefix and the same 32 bytes.
 */
import { bech32 } from '@scure/base';
import type { Decrypter } from 'age-encryption';
import { x25519Key, type X25519Key } from './age-header.js';

const PREFIX = 'AGE-SECRET-KEY-';

export class AgeIdentities {
  readonly keys: readonly X25519Key[];
  /** The lines, for the reference `Decrypter` (it takes text; the text was a string already). */
  readonly #lines: readonly string[];
  #reference: Promise<Decrypter> | undefined;

  private constructor(keys: readonly X25519Key[], lines: readonly string[]) {
    this.keys = keys;
    this.#lines = lines;
  }

  /** Parses `AGE-SECRET-KEY-1…` lines; throws `InvalidIdentity` on the first bad one (its index). */
  static parse(lines: readonly string[]): AgeIdentities {
    return new AgeIdentities(
      lines.map((line, index) => {
        const scalar = decodeIdentity(line);
        if (scalar === undefined) throw new InvalidIdentity(index);
        try {
          return x25519Key(scalar);
        } finally {
          scalar.fill(0);
        }
      }),
      lines,
    );
  }

  /** age-encryption's `Decrypter` with the same identities, loaded and built on first use. */
  reference(): Promise<Decrypter> {
    this.#reference ??= import('./age-reference.js').then(({ referenceDecrypter }) => referenceDecrypter(this.#lines));
    return this.#reference;
  }
}

export class InvalidIdentity extends Error {
  readonly index: number;
  constructor(index: number) {
    super('invalid age identity');
    this.name = 'InvalidIdentity';
    this.index = index;
  }
}

/** Whether `line` is an X25519 identity `parse` accepts (checked line by line, for the line number in errors). */
export function isIdentity(line: string): boolean {
  const scalar = decodeIdentity(line);
  scalar?.fill(0);
  return scalar !== undefined;
}

/** The 32-byte scalar of an X25519 identity line, or undefined (bad prefix, checksum, encoding or length). */
function decodeIdentity(line: string): Uint8Array | undefined {
  if (!line.startsWith(`${PREFIX}1`)) return undefined;
  let decoded: { prefix: string; bytes: Uint8Array };
  try {
    decoded = bech32.decodeToBytes(line);
  } catch {
    return undefined;
  }
  if (decoded.prefix.toUpperCase() === PREFIX && decoded.bytes.length === 32) return decoded.bytes;
  decoded.bytes.fill(0);
  return undefined;
}
