/**
 * The JIT fast path for age artifacts: a worker verifies an artifact's
 * header and unwraps its file key once, keeps only the derived payload key, and per request runs
 * only the symmetric STREAM decryption (age-stream.ts).
 *
 * Why this keeps the security meaning of decrypting from scratch:
 *  - The header is verified before any key is derived from it: stanza parsing, X25519 unwrap and
 *    header MAC by age-header.ts on node:crypto, or by age-encryption's `Decrypter.decryptHeader`
 *    (the reference) for a header outside the subset age-header.ts decides.
 *  - The cached payload key is a deterministic function of (identity, header, nonce). The worker
 *    already holds the identity, so caching the key adds no secret the worker could not recompute.
 *    The plaintext is never cached: every call decrypts and authenticates every chunk again.
 *  - One entry, keyed by the artifact's `ciphertextHash`: a new artifact replaces (and wipes) the old
 *    key. A hit also requires the header and nonce bytes to be identical to the cached ones, so even
 *    a wrong hash can only cost a re-derivation, never a decryption under another file's key: the
 *    result always equals what `Decrypter.decrypt` returns for the same bytes.
 *  - `clear()` wipes the key (revocation/expiry). Callers that cannot reach every worker replace
 *    the workers instead, which drops the cache with them.
 */
import { unwrapHeader } from './age-header.js';
import { AgeIdentities } from './age-identity.js';
import { AgeDecryptError, decryptStream, derivePayloadKey, PAYLOAD_NONCE_SIZE, splitHeader, type PlaintextAlloc } from './age-stream.js';

const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';

/** The single cache entry. `prefix` is header || nonce, copied: the caller may wipe or transfer its input. */
interface Entry {
  readonly hash: string;
  readonly payloadKey: Buffer;
  /** header length + 16: where the STREAM chunks start in the binary file. */
  readonly payloadOffset: number;
  readonly prefix: Buffer;
}

export class AgeFastDecrypter {
  readonly #identities: AgeIdentities;
  #entry: Entry | undefined;

  /**
   * @param identity the worker's configured identities (workers/keys.ts), shared, not copied; or an
   *   `AGE-SECRET-KEY-1…` string for tests and benchmarks.
   */
  constructor(identity: AgeIdentities | string) {
    this.#identities = typeof identity === 'string' ? AgeIdentities.parse([identity]) : identity;
  }

  /**
   * Decrypts one age file (binary or ASCII-armored). `hash` is the artifact's `ciphertextHash`.
   * Returns a fresh Buffer (from `alloc`) the caller owns and must `fill(0)`. Throws only `AgeDecryptError`.
   */
  async decrypt(hash: string, ageFile: Uint8Array, alloc?: PlaintextAlloc): Promise<Buffer> {
    // Before the lookup: the comment at #unwrap's await holds for everything after it.
    const file = isArmored(ageFile) ? await dearmor(ageFile) : ageFile;
    let entry = this.#lookup(hash, file);
    if (entry === undefined) {
      // A miss means another artifact (or other bytes) now: the old key goes at once, whatever
      // happens to this one.
      this.clear();
      const { header, payload } = splitHeader(file);
      if (payload.length < PAYLOAD_NONCE_SIZE) throw new AgeDecryptError('malformed');
      // The last await. Everything after it runs synchronously to the end of the call, so when
      // several tasks share the worker, no other call can replace (and wipe) `entry` between its
      // creation and its use.
      const fileKey = await this.#unwrap(header);
      entry = this.#store(hash, file, header.length, fileKey);
    }
    return decryptStream(entry.payloadKey, file.subarray(entry.payloadOffset), alloc);
  }

  /** Wipes and forgets the cached payload key. */
  clear(): void {
    this.#entry?.payloadKey.fill(0);
    this.#entry = undefined;
  }

  /** The cached entry, if any (inspection: its key buffer is the live one, so a wipe is observable). */
  get cachedEntry(): { readonly hash: string; readonly payloadKey: Buffer; readonly payloadOffset: number } | undefined {
    return this.#entry;
  }

  /** The cached entry when both the hash and the header+nonce bytes match. */
  #lookup(hash: string, file: Uint8Array): Entry | undefined {
    const e = this.#entry;
    if (e === undefined || e.hash !== hash || file.length < e.payloadOffset) return undefined;
    return e.prefix.equals(file.subarray(0, e.payloadOffset)) ? e : undefined;
  }

  /** age-header.ts verifies the header and unwraps the file key; age-encryption when it defers. */
  async #unwrap(header: Uint8Array): Promise<Uint8Array> {
    const native = unwrapHeader(header, this.#identities.keys);
    if (native !== 'reference') {
      if ('failure' in native) throw new AgeDecryptError(native.failure);
      return native.fileKey;
    }
    try {
      return await (await this.#identities.reference()).decryptHeader(header);
    } catch (err) {
      // The library's messages carry no secrets, but only this one distinction is worth keeping.
      const noMatch = err instanceof Error && /no identity matched/i.test(err.message);
      throw new AgeDecryptError(noMatch ? 'no_identity' : 'header');
    }
  }

  /** Derives the payload key, wipes the file key, and replaces (wiping) any entry stored meanwhile. */
  #store(hash: string, file: Uint8Array, headerLength: number, fileKey: Uint8Array): Entry {
    const payloadOffset = headerLength + PAYLOAD_NONCE_SIZE;
    let payloadKey: Buffer;
    try {
      payloadKey = derivePayloadKey(fileKey, file.subarray(headerLength, payloadOffset));
    } finally {
      // The file key is needed only for this derivation (and the header MAC, already checked).
      fileKey.fill(0);
    }
    const entry: Entry = { hash, payloadKey, payloadOffset, prefix: Buffer.from(file.subarray(0, payloadOffset)) };
    this.clear();
    this.#entry = entry;
    return entry;
  }
}

/**
 * Whether `bytes` is ASCII armor: its BEGIN line within the first 64 bytes, after any leading
 * whitespace. The one armor check of the agent: workers/decrypt/age.ts uses it too.
 */
export function isArmored(bytes: Uint8Array): boolean {
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 64)).toString('latin1').trimStart();
  return head.startsWith(ARMOR_BEGIN);
}

/** The binary age file: `bytes` itself, or its armor decoded by age-encryption's `armor.decode` (loaded then). */
export async function dearmor(bytes: Uint8Array): Promise<Uint8Array> {
  if (!isArmored(bytes)) return bytes;
  const { decodeArmor } = await import('./age-reference.js');
  try {
    return decodeArmor(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'));
  } catch {
    throw new AgeDecryptError('armor');
  }
}
