/**
 * A throwaway certificate authority and one server certificate signed by it, made in memory at test
 * time with node:crypto (ECDSA P-256, a minimal DER X.509 v3 encoder below): no openssl needed and
 * no key ever committed. Tests hand `caPem` to the agent through `NODE_EXTRA_CA_CERTS` (a file in a
 * temp dir) or to an https.Agent as `ca`.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import os from 'node:os';
import { join } from 'node:path';

export interface TestTls {
  /** The CA certificate (PEM): the only thing a client needs to trust the server. */
  readonly caPem: string;
  /** The server certificate (PEM), valid for the names it was made for. */
  readonly certPem: string;
  /** The server's private key (PKCS#8 PEM). */
  readonly keyPem: string;
}

/** A fresh CA and a server certificate for `names` (DNS names and IP literals), valid for a day. */
export function makeTestTls(names: readonly string[]): TestTls {
  const ca = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const server = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const caName = distinguishedName('clef-agent test CA');
  const caSpki = ca.publicKey.export({ format: 'der', type: 'spki' });
  const caCert = certificate(ca.privateKey, {
    issuer: caName,
    subject: caName,
    spki: caSpki,
    extensions: [
      extension(OID.basicConstraints, true, seq(der(0x01, Buffer.from([0xff])))),
      // keyCertSign | cRLSign
      extension(OID.keyUsage, true, der(0x03, Buffer.from([0x01, 0x06]))),
      extension(OID.subjectKeyIdentifier, false, der(0x04, keyId(caSpki))),
    ],
  });
  const san = names.map((n) => (isIP(n) === 4 ? der(0x87, Buffer.from(n.split('.').map(Number))) : der(0x82, Buffer.from(n, 'ascii'))));
  const serverCert = certificate(ca.privateKey, {
    issuer: caName,
    subject: distinguishedName(names[0] ?? 'localhost'),
    spki: server.publicKey.export({ format: 'der', type: 'spki' }),
    extensions: [
      extension(OID.basicConstraints, true, seq()),
      // digitalSignature
      extension(OID.keyUsage, true, der(0x03, Buffer.from([0x07, 0x80]))),
      extension(OID.extKeyUsage, false, seq(oid(OID.serverAuth))),
      extension(OID.subjectAltName, false, seq(...san)),
      extension(OID.authorityKeyIdentifier, false, seq(der(0x80, keyId(caSpki)))),
    ],
  });
  return {
    caPem: pem('CERTIFICATE', caCert),
    certPem: pem('CERTIFICATE', serverCert),
    keyPem: String(server.privateKey.export({ format: 'pem', type: 'pkcs8' })),
  };
}

/** Writes the CA certificate into a fresh temp dir (for NODE_EXTRA_CA_CERTS); `remove` deletes the dir. */
export function writeCaFile(tls: TestTls): { readonly path: string; remove(): void } {
  const dir = mkdtempSync(join(os.tmpdir(), 'clef-test-ca-'));
  const path = join(dir, 'ca.pem');
  writeFileSync(path, tls.caPem, { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

const OID = {
  commonName: '2.5.4.3',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectAltName: '2.5.29.17',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  serverAuth: '1.3.6.1.5.5.7.3.1',
} as const;

interface CertFields {
  readonly issuer: Buffer;
  readonly subject: Buffer;
  readonly spki: Buffer;
  readonly extensions: readonly Buffer[];
}

/** Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue }. */
function certificate(signer: KeyObject, f: CertFields): Buffer {
  const algorithm = seq(oid(OID.ecdsaWithSha256));
  const now = Date.now();
  const serial = randomBytes(16);
  // A positive INTEGER in minimal DER: top bit clear (not negative) and the first byte never zero
  // (a leading 0x00 before a byte < 0x80 is "illegal padding"; newer OpenSSL rejects the
  // certificate, about one run in 256 with a fully random first byte).
  serial[0] = ((serial[0] ?? 0) & 0x3f) | 0x40;
  const tbs = seq(
    der(0xa0, der(0x02, Buffer.from([0x02]))), // version v3
    der(0x02, serial),
    algorithm,
    f.issuer,
    seq(utcTime(new Date(now - 3_600_000)), utcTime(new Date(now + 86_400_000))),
    f.subject,
    f.spki,
    der(0xa3, seq(...f.extensions)),
  );
  // node:crypto signs EC keys as DER ECDSA-Sig-Value, which is what X.509 wants.
  return seq(tbs, algorithm, der(0x03, Buffer.concat([Buffer.from([0x00]), sign('sha256', tbs, signer)])));
}

function distinguishedName(cn: string): Buffer {
  return seq(der(0x31, seq(oid(OID.commonName), der(0x0c, Buffer.from(cn, 'utf8')))));
}

function extension(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [der(0x01, Buffer.from([0xff]))] : []), der(0x04, value));
}

/** RFC 5280 method 1: SHA-1 of the subjectPublicKey bits (the SPKI's trailing BIT STRING). */
function keyId(spki: Buffer): Buffer {
  // A P-256 SPKI ends with the 65-byte uncompressed point.
  return createHash('sha1')
    .update(spki.subarray(spki.length - 65))
    .digest();
}

function utcTime(d: Date): Buffer {
  const s = d.toISOString(); // 2025-01-02T03:04:05.678Z → 250102030405Z
  return der(0x17, Buffer.from(`${s.slice(2, 4)}${s.slice(5, 7)}${s.slice(8, 10)}${s.slice(11, 13)}${s.slice(14, 16)}${s.slice(17, 19)}Z`, 'ascii'));
}

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * a + b];
  for (const arc of rest) {
    const chunk = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) chunk.unshift((v & 0x7f) | 0x80);
    bytes.push(...chunk);
  }
  return der(0x06, Buffer.from(bytes));
}

function seq(...items: Buffer[]): Buffer {
  return der(0x30, Buffer.concat(items));
}

/** One DER TLV (short or long length form). */
function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let length: Buffer;
  if (n < 0x80) length = Buffer.from([n]);
  else {
    const bytes: number[] = [];
    for (let v = n; v > 0; v >>>= 8) bytes.unshift(v & 0xff);
    length = Buffer.from([0x80 | bytes.length, ...bytes]);
  }
  return Buffer.concat([Buffer.from([tag]), length, content]);
}

function pem(label: string, body: Buffer): string {
  const b64 = body.toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}
