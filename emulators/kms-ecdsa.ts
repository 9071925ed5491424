/**
 * ECDSA P-256 over a precomputed SHA-256 digest, for the local KMS server's `Sign` with
 * `MessageType: DIGEST`. node:crypto cannot sign a digest as-is (`sign(null, …)` hashes it again),
 * and AWS KMS does exactly that, so this small BigInt implementation stands in. It only has to be
 * correct, not constant-time: it signs with throwaway test keys. The agent verifies the result with
 * OpenSSL (node:crypto), so the two sides check each other.
 */
import { randomBytes, type KeyObject } from 'node:crypto';

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const A = P - 3n;
const G: Point = {
  x: 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n,
  y: 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n,
};

interface Point {
  readonly x: bigint;
  readonly y: bigint;
}

function mod(a: bigint, m: bigint): bigint {
  const r = a % m;
  return r >= 0n ? r : r + m;
}

/** Modular inverse by Fermat (both moduli are prime). */
function inv(a: bigint, m: bigint): bigint {
  let result = 1n;
  let base = mod(a, m);
  let e = m - 2n;
  while (e > 0n) {
    if (e & 1n) result = (result * base) % m;
    base = (base * base) % m;
    e >>= 1n;
  }
  return result;
}

function add(p: Point | null, q: Point | null): Point | null {
  if (p === null) return q;
  if (q === null) return p;
  if (p.x === q.x && mod(p.y + q.y, P) === 0n) return null;
  const l = p.x === q.x ? mod((3n * p.x * p.x + A) * inv(2n * p.y, P), P) : mod((q.y - p.y) * inv(q.x - p.x, P), P);
  const x = mod(l * l - p.x - q.x, P);
  return { x, y: mod(l * (p.x - x) - p.y, P) };
}

function mul(k: bigint, p: Point): Point | null {
  let r: Point | null = null;
  let q: Point | null = p;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) r = add(r, q);
    q = add(q, q);
  }
  return r;
}

const toBig = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);

/** The private scalar of a P-256 KeyObject (via its JWK export). */
export function privateScalar(key: KeyObject): bigint {
  const d = key.export({ format: 'jwk' }).d;
  if (d === undefined) throw new Error('not a private EC key');
  return toBig(Buffer.from(d, 'base64url'));
}

/** DER `SEQUENCE { INTEGER r, INTEGER s }`, as KMS returns for ECDSA_SHA_256. */
function derSignature(r: bigint, s: bigint): Buffer {
  const int = (v: bigint): Buffer => {
    let hex = v.toString(16);
    if (hex.length % 2 === 1) hex = `0${hex}`;
    let b = Buffer.from(hex, 'hex');
    if ((b[0] ?? 0) & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
    return Buffer.concat([Buffer.from([0x02, b.length]), b]);
  };
  const body = Buffer.concat([int(r), int(s)]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}

/** Sign a 32-byte digest with scalar `d`: s = k⁻¹(z + r·d) mod n. */
export function signDigest(digest: Uint8Array, d: bigint): Buffer {
  const z = toBig(digest);
  for (;;) {
    const k = mod(toBig(randomBytes(40)), N - 1n) + 1n;
    const R = mul(k, G);
    if (R === null) continue;
    const r = mod(R.x, N);
    if (r === 0n) continue;
    const s = mod(inv(k, N) * (z + r * d), N);
    if (s !== 0n) return derSignature(r, s);
  }
}
