/**
 * Signing-key loading and artifact signing (SPEC §2.2). As on the agent's side, the key type picks
 * the algorithm: Ed25519 → Ed25519 over the payload; EC P-256 → ECDSA with SHA-256, DER signature
 * (what AWS KMS `ECDSA_SHA_256` produces, so KMS-signed and locally signed artifacts look the same).
 */

import { createPrivateKey, createPublicKey, sign, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { PackError, fsReason } from './errors.js';

export type SignatureAlgorithm = 'Ed25519' | 'ECDSA_SHA256';

export interface Signer {
  readonly algorithm: SignatureAlgorithm;
  /** Base64 DER SubjectPublicKeyInfo: the value for `CLEF_AGENT_VERIFY_KEY` (public, safe to print). */
  readonly verifyKey: string;
  /** Base64 signature over the signing payload bytes. */
  sign(payload: Buffer): string;
}

const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Turn key file bytes into a private KeyObject. Accepts PKCS#8 (or SEC1 EC) PEM, base64 PKCS#8 DER
 * (the same shape as CLEF_AGENT_VERIFY_KEY, which is how operators tend to store keys in CI
 * variables) and raw DER. Node's own parse errors are replaced: they say little to a user, and
 * the messages here point at the usual mix-ups (a public key, an encrypted key).
 */
export function parseSigningKey(bytes: Uint8Array): KeyObject {
  const buf = Buffer.from(bytes);
  const ders: Buffer[] = [];
  try {
    const head = buf.subarray(0, 4096).toString('latin1');
    const pem = /-----BEGIN ([A-Z0-9 ]+)-----/.exec(head);
    if (pem !== null) {
      const label = pem[1] ?? '';
      if (label === 'ENCRYPTED PRIVATE KEY') {
        throw new PackError('--sign-key is passphrase-encrypted; export it unencrypted (PKCS#8) for pack');
      }
      if (label === 'PUBLIC KEY' || label === 'CERTIFICATE') {
        throw new PackError('--sign-key holds a public key; it needs the private key (the public one is the verify key)');
      }
      try {
        return checkPrivate(createPrivateKey({ key: buf, format: 'pem' }));
      } catch (err) {
        if (err instanceof PackError) throw err;
        throw new PackError(`--sign-key: cannot parse the PEM ${label} (expected an unencrypted PKCS#8 private key)`);
      }
    }
    let der: Buffer;
    const text = buf.toString('latin1').replace(/\s+/g, '');
    if (text.length > 0 && BASE64_RE.test(text)) {
      der = Buffer.from(text, 'base64');
      ders.push(der);
    } else if (buf[0] === 0x30) {
      der = buf; // raw DER: a SEQUENCE
    } else {
      throw new PackError('--sign-key must be a PKCS#8 private key in PEM or base64 DER form');
    }
    try {
      return checkPrivate(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
    } catch (err) {
      if (err instanceof PackError) throw err;
      if (isPublicDer(der)) {
        throw new PackError('--sign-key holds a public key (SPKI); it needs the private key (the public one is the verify key)');
      }
      throw new PackError('--sign-key: cannot parse the DER data as an unencrypted PKCS#8 private key');
    }
  } finally {
    // Key bytes this module owns are wiped; the KeyObject keeps its own copy in OpenSSL memory.
    buf.fill(0);
    for (const d of ders) d.fill(0);
  }
}

function isPublicDer(der: Buffer): boolean {
  try {
    createPublicKey({ key: der, format: 'der', type: 'spki' });
    return true;
  } catch {
    return false;
  }
}

function checkPrivate(key: KeyObject): KeyObject {
  if (key.type !== 'private') throw new PackError('--sign-key must be a private key');
  algorithmFor(key); // throws on unsupported types
  return key;
}

/** The key type picks the algorithm (SPEC §2.2); anything but Ed25519 and P-256 is refused. */
function algorithmFor(key: KeyObject): SignatureAlgorithm {
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return 'Ed25519';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return 'ECDSA_SHA256';
    throw new PackError(`--sign-key is an EC key on curve ${curve ?? 'unknown'}; only P-256 (prime256v1) is supported`);
  }
  throw new PackError(`--sign-key is a ${type ?? 'non-asymmetric'} key; supported key types are Ed25519 and ECDSA P-256`);
}

/** A signer for a private KeyObject (the demo and tests generate keys in memory and pass them here). */
export function makeSigner(key: KeyObject): Signer {
  if (key.type !== 'private') throw new PackError('signing key must be a private key');
  const algorithm = algorithmFor(key);
  const publicKey = createPublicKey(key);
  const digest = algorithm === 'Ed25519' ? null : 'sha256';
  return {
    algorithm,
    verifyKey: publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
    sign(payload: Buffer): string {
      const signature = sign(digest, payload, key);
      // Cheap insurance that what we hand out verifies the way the agent will verify it.
      if (!verify(digest, payload, publicKey, signature)) {
        throw new PackError('internal error: the fresh signature does not verify', { exitCode: 1 });
      }
      return signature.toString('base64');
    },
  };
}

export async function readSigningKeyFile(path: string): Promise<KeyObject> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new PackError(`cannot read --sign-key file ${path}: ${fsReason(err)}`);
  }
  try {
    return parseSigningKey(bytes);
  } finally {
    bytes.fill(0);
  }
}
