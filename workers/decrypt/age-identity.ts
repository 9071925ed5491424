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

  /** `keys[i]` is `identityKey(lines[i])`. */
  constructor(keys: readonly X25519Key[], lines: readonly string[]) {
    this.keys = keys;
    this.#lines = lines;
  }

  /** Parses `AGE-SECRET-KEY-1…` lines; throws on the first bad one. */
  static parse(lines: readonly string[]): AgeIdentities {
    return new AgeIdentities(
      lines.map((line) => {
        const key = identityKey(line);
        if (key === undefined) throw new Error('invalid age identity');
        return key;
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

/** The key of an X25519 identity line, or undefined (bad prefix, checksum, encoding or length). */
export function identityKey(line: string): X25519Key | undefined {
  if (!line.startsWith(`${PREFIX}1`)) return undefined;
  let decoded: { prefix: string; bytes: Uint8Array };
  try {
    decoded = bech32.decodeToBytes(line);
  } catch {
    return undefined;
  }
  try {
    return decoded.prefix.toUpperCase() === PREFIX && decoded.bytes.length === 32 ? x25519Key(decoded.bytes) : undefined;
  } finally {
    decoded.bytes.fill(0);
  }
}
