/**
 * The age v1 header for X25519 identities, on `node:crypto` (C2SP age spec, "Header" and "X25519
 * recipient stanza"):
 *
 *   header  = "age-encryption.org/v1\n" stanza* "--- " base64(MAC) "\n"
 *   stanza  = "-> " arg (" " arg)* "\n" body, body = unpadded base64 in lines of 64 columns, the
 *             last one shorter (possibly empty)
 *   X25519  = "-> X25519 " base64(share) with a 32-byte body (wrapped file key + tag):
 *             wrap key = HKDF-SHA-256(ikm = X25519(identity, share), salt = share || recipient,
 *                        info = "age-encryption.org/v1/X25519"),
 *             file key = ChaCha20-Poly1305(wrap key, zero nonce).open(body)
 *   MAC     = HMAC-SHA-256(HKDF-SHA-256(ikm = file key, salt = empty, info = "header"),
 *                          header up to and including "---")
 *
 * Why not age-encryption's `decryptHeader` (the reference, which this must agree with): loading it
 * is most of a worker's start-up (~40 ms of a cold start on the 2-core machine; the library and
 * its curve, hash and post-quantum code), and it does X25519 through WebCrypto on web streams. The
 * agent's keys are X25519, so this one documented step runs on OpenSSL instead.
 *
 * It decides only what it is sure the reference decides the same way. It parses a strict subset of
 * the grammar (printable ASCII lines, canonical base64, 32-byte shares and bodies, a 32-byte MAC);
 * a header outside that subset, or an X25519 share OpenSSL refuses (a low-order point), is
 * `'reference'`: the caller hands it to age-encryption, which gives the answer. Inside the subset,
 * "no stanza unwraps" and "the MAC does not verify" are exactly the reference's own failures.
 * test/workers/age-header.test.ts checks this against age-encryption and the Go `age` CLI.
 */
import { createDecipheriv, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync, timingSafeEqual, type KeyObject } from 'node:crypto';

/** One X25519 identity: OpenSSL's key and the 32-byte recipient (public u-coordinate) the HKDF salt needs. */
export interface X25519Key {
  readonly privateKey: KeyObject;
  readonly recipient: Buffer;
}

export type HeaderResult =
  /** The unwrapped file key (16 bytes, header MAC verified); the caller wipes it. */
  | { readonly fileKey: Buffer }
  /** No X25519 stanza unwraps with these keys, or the MAC does not verify. */
  | { readonly failure: 'no_identity' | 'header' }
  /** Outside what this module decides: ask age-encryption. */
  | 'reference';

const VERSION = 'age-encryption.org/v1';
const X25519_LABEL = 'age-encryption.org/v1/X25519';
// DER prefixes that make a raw 32-byte X25519 scalar a PKCS #8 key, and a u-coordinate an SPKI key (RFC 8410).
const PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
/** Body bytes per full stanza line (64 base64 columns). */
const BODY_LINE_BYTES = 48;
const KEY_BYTES = 32;
const FILE_KEY_BYTES = 16;
const TAG_BYTES = 16;
const ZERO_NONCE = Buffer.alloc(12);

/** The key for a 32-byte scalar. The caller wipes `scalar`; the DER copy made here is wiped before returning. */
export function x25519Key(scalar: Uint8Array): X25519Key {
  if (scalar.length !== KEY_BYTES) throw new RangeError('an X25519 scalar is 32 bytes');
  const der = Buffer.concat([PKCS8_PREFIX, scalar]);
  try {
    const privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return { privateKey, recipient: Buffer.from(spki.subarray(SPKI_PREFIX.length)) };
  } finally {
    der.fill(0);
  }
}

interface Stanza {
  readonly args: readonly string[];
  readonly body: Buffer;
}

interface Parsed {
  readonly stanzas: readonly Stanza[];
  readonly mac: Buffer;
  /** The bytes the MAC covers: the header up to and including "---". */
  readonly macInput: Uint8Array;
}

/**
 * Unwraps the file key of `header` (the bytes up to and including the MAC line's newline, as
 * age-stream.ts `splitHeader` cuts them) with the first of `keys` that a stanza opens, in the
 * reference's order: each identity in turn against every X25519 stanza.
 */
export function unwrapHeader(header: Uint8Array, keys: readonly X25519Key[]): HeaderResult {
  const parsed = parseHeader(header);
  if (parsed === undefined) return 'reference';
  const x25519 = x25519Stanzas(parsed.stanzas);
  if (x25519 === undefined) return 'reference';
  for (const key of keys) {
    for (const s of x25519) {
      const fileKey = unwrapStanza(s, key);
      if (fileKey === 'reference') return 'reference';
      if (fileKey === undefined) continue;
      if (macMatches(fileKey, parsed)) return { fileKey };
      fileKey.fill(0);
      return { failure: 'header' };
    }
  }
  return { failure: 'no_identity' };
}

/** An X25519 stanza's share (32 bytes) and body (wrapped file key and tag). */
interface X25519Stanza {
  readonly share: Buffer;
  readonly body: Buffer;
}

/**
 * The X25519 stanzas in header order, or undefined when one is malformed: the reference throws on
 * a malformed X25519 stanza it reaches, and which one it reaches depends on the order of success,
 * so any malformed one is left to it.
 */
function x25519Stanzas(stanzas: readonly Stanza[]): X25519Stanza[] | undefined {
  const out: X25519Stanza[] = [];
  for (const s of stanzas) {
    if (s.args[0] !== 'X25519') continue;
    const share = s.args.length === 2 ? decodeBase64(s.args[1] ?? '') : undefined;
    if (share?.length !== KEY_BYTES || s.body.length !== FILE_KEY_BYTES + TAG_BYTES) return undefined;
    out.push({ share, body: s.body });
  }
  return out;
}

/** The file key, undefined when this key does not open the stanza, or 'reference' for a share OpenSSL refuses. */
function unwrapStanza({ share, body }: X25519Stanza, key: X25519Key): Buffer | undefined | 'reference' {
  let secret: Buffer;
  try {
    const peer = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, share]), format: 'der', type: 'spki' });
    secret = diffieHellman({ privateKey: key.privateKey, publicKey: peer });
  } catch {
    return 'reference';
  }
  // An all-zero shared secret (a low-order share) must be refused; OpenSSL already refuses it, and
  // if some build did not, the reference gets to say so.
  if (secret.every((b) => b === 0)) return 'reference';
  const wrapKey = Buffer.from(hkdfSync('sha256', secret, Buffer.concat([share, key.recipient]), X25519_LABEL, KEY_BYTES));
  secret.fill(0);
  try {
    const d = createDecipheriv('chacha20-poly1305', wrapKey, ZERO_NONCE, { authTagLength: TAG_BYTES });
    d.setAuthTag(body.subarray(FILE_KEY_BYTES));
    const fileKey = d.update(body.subarray(0, FILE_KEY_BYTES));
    try {
      d.final();
    } catch {
      fileKey.fill(0);
      return undefined;
    }
    return fileKey;
  } finally {
    wrapKey.fill(0);
  }
}

function macMatches(fileKey: Buffer, parsed: Parsed): boolean {
  const hmacKey = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', KEY_BYTES));
  const mac = createHmac('sha256', hmacKey).update(parsed.macInput).digest();
  hmacKey.fill(0);
  return timingSafeEqual(mac, parsed.mac);
}

/** The header in the strict subset described above, or undefined. */
function parseHeader(header: Uint8Array): Parsed | undefined {
  const text = Buffer.from(header.buffer, header.byteOffset, header.byteLength).toString('latin1');
  // Printable ASCII and newlines only, ending with a newline (the reference refuses anything else).
  if (!/^[\x20-\x7e\n]*\n$/.test(text)) return undefined;
  const lines = text.slice(0, -1).split('\n');
  if (lines[0] !== VERSION) return undefined;
  const stanzas: Stanza[] = [];
  let i = 1;
  while ((lines[i] ?? '').startsWith('-> ')) {
    const args = (lines[i] ?? '').slice(3).split(' ');
    if (args.some((a) => a === '')) return undefined;
    const parts: Buffer[] = [];
    for (;;) {
      i++;
      const line = lines[i];
      if (line === undefined) return undefined;
      const part = decodeBase64(line);
      if (part === undefined || part.length > BODY_LINE_BYTES) return undefined;
      parts.push(part);
      if (part.length < BODY_LINE_BYTES) break;
    }
    stanzas.push({ args, body: Buffer.concat(parts) });
    i++;
  }
  const macLine = lines[i];
  if (i !== lines.length - 1 || macLine === undefined || !macLine.startsWith('--- ')) return undefined;
  const mac = decodeBase64(macLine.slice(4));
  if (mac?.length !== KEY_BYTES) return undefined;
  // Everything but " <MAC>\n".
  return { stanzas, mac, macInput: header.subarray(0, header.length - (macLine.length - 3) - 1) };
}

/**
 * Canonical unpadded base64 only, as the reference's decoder: `Buffer.from` alone would skip stray
 * characters and ignore non-zero trailing bits, so the bytes must encode back to the same text.
 */
function decodeBase64(s: string): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*$/.test(s) || s.length % 4 === 1) return undefined;
  const bytes = Buffer.from(s, 'base64');
  return bytes.toString('base64').replace(/=+$/, '') === s ? bytes : undefined;
}
