/**
 * The age v1 payload format, on `node:crypto` primitives (C2SP age + agead specs):
 *
 *   file    = header || payload
 *   header  = text lines ending with the MAC line `--- <base64 MAC>\n`
 *   payload = nonce (16 bytes) || STREAM chunks
 *   payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload"), 32 bytes
 *   chunk i = ChaCha20-Poly1305(payload key, nonce = 11-byte big-endian i || last flag) of up to
 *             64 KiB of plaintext, so up to 64 KiB + 16 bytes of ciphertext
 *
 * Nothing here parses stanzas, does X25519 or checks the header MAC: that stays in age-encryption's
 * `Decrypter.decryptHeader` (see age-fast.ts). This module only finds where the header ends and
 * decrypts the payload, so that a worker can verify a header once and then pay only for the
 * symmetric part on every request.
 *
 * Errors are `AgeDecryptError`s whose messages are fixed wording: never key or plaintext bytes.
 */
import { createDecipheriv, hkdfSync } from 'node:crypto';

/** Plaintext bytes per chunk. */
export const CHUNK_SIZE = 64 * 1024;
/** Poly1305 tag length. */
export const TAG_SIZE = 16;
/** Ciphertext bytes of a full chunk. */
export const CHUNK_CIPHERTEXT_SIZE = CHUNK_SIZE + TAG_SIZE;
/** Bytes of the payload nonce that precedes the chunks. */
export const PAYLOAD_NONCE_SIZE = 16;

/**
 * The chunk counter is 11 bytes in the format. We write it as a 48-bit integer (bytes 5..10) and
 * refuse anything larger: 2^48 chunks is 16 EiB, far beyond anything a Buffer can hold, so the
 * guard can only fire on a bug, never on a real file.
 */
const MAX_CHUNKS = 2 ** 48;

export type AgeFailure =
  /** The bytes are not an age v1 file: no header/MAC line, or no room for the payload nonce. */
  | 'malformed'
  /** ASCII armor that age-encryption's `armor.decode` refuses. */
  | 'armor'
  /** None of the worker's identities is a recipient of the file. */
  | 'no_identity'
  /** The header does not parse, or its MAC does not verify. */
  | 'header'
  /** A chunk fails authentication: tampering, truncation, trailing data or the wrong key. */
  | 'payload'
  /** A final chunk is empty although earlier chunks exist (the spec forbids it). */
  | 'empty_final_chunk';

const MESSAGES: Record<AgeFailure, string> = {
  malformed: 'not an age v1 file: the header or the payload nonce is missing',
  armor: 'the ASCII armor is malformed',
  no_identity: 'the configured age key is not a recipient of this file',
  header: 'the age header is malformed or its MAC does not verify',
  payload: 'the age payload is corrupted, truncated or has trailing data',
  empty_final_chunk: 'the age payload ends with an empty final chunk',
};

/** The one error type of the fast path. The caller maps every instance to `decrypt_failed`. */
export class AgeDecryptError extends Error {
  readonly reason: AgeFailure;
  constructor(reason: AgeFailure) {
    super(`age decryption failed: ${MESSAGES[reason]}`);
    this.name = 'AgeDecryptError';
    this.reason = reason;
  }
}

const VERSION_LINE = Buffer.from('age-encryption.org/v1\n', 'latin1');
const MAC_LINE_START = Buffer.from('\n--- ', 'latin1');
const NEWLINE = 0x0a;

/**
 * Splits an age v1 file (binary, not armored) after the header's MAC line.
 *
 * Why the first `\n--- ` is the MAC line: stanza argument lines start with `-> ` and stanza body
 * lines are unpadded base64, which has no `-` or space, so no earlier line can start with `--- `.
 * age-encryption's parser ends the header at that same line (it throws on any earlier line that
 * is neither a stanza nor the MAC line), so `decryptHeader(header)` sees exactly the bytes the
 * library's own `decrypt` would treat as the header. A file whose header is malformed may make this
 * scan land inside binary data; `decryptHeader` then rejects the non-ASCII "header", so the split
 * never has to be trusted on its own.
 */
export function splitHeader(file: Uint8Array): { header: Uint8Array; payload: Uint8Array } {
  const buf = Buffer.from(file.buffer, file.byteOffset, file.byteLength);
  if (buf.length < VERSION_LINE.length || !buf.subarray(0, VERSION_LINE.length).equals(VERSION_LINE)) {
    throw new AgeDecryptError('malformed');
  }
  // Search from the version line's own newline so a header without stanzas still matches.
  const macLine = buf.indexOf(MAC_LINE_START, VERSION_LINE.length - 1);
  if (macLine < 0) throw new AgeDecryptError('malformed');
  const end = buf.indexOf(NEWLINE, macLine + MAC_LINE_START.length);
  if (end < 0) throw new AgeDecryptError('malformed');
  return { header: file.subarray(0, end + 1), payload: file.subarray(end + 1) };
}

/**
 * payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload"), 32 bytes. The result
 * is a view on the fresh ArrayBuffer `hkdfSync` returns, so `fill(0)` on it wipes the only copy
 * JavaScript can reach.
 */
export function derivePayloadKey(fileKey: Uint8Array, nonce: Uint8Array): Buffer {
  if (nonce.length !== PAYLOAD_NONCE_SIZE) throw new AgeDecryptError('malformed');
  return Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
}

/** The plaintext length for `bodyLength` bytes of chunks, or null when no chunking can produce it. */
function plaintextLength(bodyLength: number): number | null {
  if (bodyLength < TAG_SIZE) return null;
  const chunks = Math.max(1, Math.ceil(bodyLength / CHUNK_CIPHERTEXT_SIZE));
  const last = bodyLength - (chunks - 1) * CHUNK_CIPHERTEXT_SIZE;
  // A final chunk of 1..15 bytes after full chunks cannot even hold its tag.
  if (last < TAG_SIZE) return null;
  return bodyLength - chunks * TAG_SIZE;
}

/** Where a plaintext goes: a Buffer of exactly `size` bytes that is its whole, unpooled ArrayBuffer. */
export type PlaintextAlloc = (size: number) => Buffer;

function freshPlaintext(size: number): Buffer {
  return Buffer.allocUnsafeSlow(size);
}

/**
 * Decrypts the STREAM chunks of an age payload (`body` = the payload without its 16-byte nonce).
 *
 * Chunk boundaries follow from the length alone: every chunk but the last is exactly 64 KiB + 16
 * bytes, so the last chunk is whatever remains after the full ones (1..64 KiB + 16 bytes, or the
 * 16-byte tag of an empty file). That is also how the format's failure cases are caught:
 *  - a payload cut after a full chunk: that chunk is decrypted with the last flag and fails;
 *  - a truncated or extended final chunk, or trailing data: the tag no longer verifies;
 *  - an empty final chunk after full ones: authenticates, but is refused explicitly.
 *
 * Returns a fresh, unpooled Buffer (from `alloc`) the caller owns and must `fill(0)` after use. Unpooled matters:
 * a pooled slice would share its ArrayBuffer with unrelated data (so it could neither be
 * transferred to another thread nor wiped as a whole). On any failure the partial plaintext is
 * wiped before throwing: node:crypto's `update` releases plaintext before `final` checks the tag.
 */
export function decryptStream(payloadKey: Buffer, body: Uint8Array, alloc: PlaintextAlloc = freshPlaintext): Buffer {
  const total = plaintextLength(body.length);
  if (total === null) throw new AgeDecryptError('payload');
  const out = alloc(total);
  const nonce = Buffer.alloc(12);
  let inOff = 0;
  let outOff = 0;
  let counter = 0;
  try {
    for (;;) {
      if (counter >= MAX_CHUNKS) throw new AgeDecryptError('payload');
      const remaining = body.length - inOff;
      // More than one full chunk left means this one cannot be the last (see plaintextLength).
      const last = remaining <= CHUNK_CIPHERTEXT_SIZE;
      const size = last ? remaining : CHUNK_CIPHERTEXT_SIZE;
      nonce.writeUIntBE(counter, 5, 6);
      nonce[11] = last ? 0x01 : 0x00;
      const ct = body.subarray(inOff, inOff + size - TAG_SIZE);
      const tag = body.subarray(inOff + size - TAG_SIZE, inOff + size);
      outOff += openChunk(payloadKey, nonce, ct, tag, out, outOff);
      if (last) {
        if (size === TAG_SIZE && counter > 0) throw new AgeDecryptError('empty_final_chunk');
        break;
      }
      inOff += size;
      counter++;
    }
  } catch (err) {
    out.fill(0);
    throw err instanceof AgeDecryptError ? err : new AgeDecryptError('payload');
  }
  return out;
}

/** One ChaCha20-Poly1305 open into `out` at `at`; returns the bytes written. Throws on a bad tag. */
function openChunk(key: Buffer, nonce: Buffer, ct: Uint8Array, tag: Uint8Array, out: Buffer, at: number): number {
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_SIZE });
  d.setAuthTag(tag);
  // `update` allocates its own output; copy it into place and wipe the intermediate at once.
  const part = d.update(ct);
  try {
    part.copy(out, at);
    // Throws "Unsupported state or unable to authenticate data" on a bad tag.
    const fin = d.final();
    fin.copy(out, at + part.length);
    const n = part.length + fin.length;
    fin.fill(0);
    return n;
  } finally {
    part.fill(0);
  }
}
