/**
 * The signature verify key (`CLEF_AGENT_VERIFY_KEY`, SPEC §2.2): decoded and classified here, once;
 * the workers verify with the canonical form returned.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { refuse } from './errors.js';
import { quote } from '../../common/display.js';
import type { Config } from './types.js';

const VERIFY_EXPECTED = 'a base64 DER SubjectPublicKeyInfo of an Ed25519 or EC P-256 public key';

const KEY_TYPE_NAMES: Readonly<Record<string, string>> = {
  rsa: 'an RSA key',
  'rsa-pss': 'an RSA-PSS key',
  dsa: 'a DSA key',
  dh: 'a Diffie-Hellman key',
  ed448: 'an Ed448 key',
  x25519: 'an X25519 key',
  x448: 'an X448 key',
};
const CURVE_NAMES: Readonly<Record<string, string>> = { secp384r1: 'P-384', secp521r1: 'P-521' };

function describe(key: KeyObject): string {
  const type = key.asymmetricKeyType ?? 'unknown';
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve ?? 'unknown';
    const common = CURVE_NAMES[curve];
    return `an EC key on curve ${common === undefined ? curve : `${common} (${curve})`}`;
  }
  return KEY_TYPE_NAMES[type] ?? `a key of type ${quote(type)}`;
}

/**
 * Decodes and classifies the verify key; its type alone picks the signature algorithm (no downgrade
 * via the artifact's claim). Whitespace is ignored and a `PUBLIC KEY` PEM block is accepted, because
 * both come from copy-pasting `openssl` output. A private key is refused loudly: it must not sit in
 * the environment, and it is never echoed. The returned key is re-exported as canonical base64 DER.
 */
export function parseVerifyKey(name: string, raw: string): Pick<Config, 'verifyKey' | 'verifyKeyType'> {
  if (raw === '') refuse(name, 'is empty', VERIFY_EXPECTED);
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(raw)) refuse(name, 'is a private key', VERIFY_EXPECTED);
  const pem = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(raw);
  if (pem === null && raw.includes('-----BEGIN')) refuse(name, 'is a PEM block other than PUBLIC KEY', VERIFY_EXPECTED);
  const b64 = (pem?.[1] ?? raw).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) refuse(name, 'is not valid base64', VERIFY_EXPECTED);
  const der = Buffer.from(b64, 'base64');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch {
    let isPrivate = false;
    try {
      createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
      isPrivate = true;
    } catch {
      // Neither a public nor a private key: reported below.
    }
    return refuse(name, isPrivate ? 'is a private key' : 'is not a DER SubjectPublicKeyInfo public key', VERIFY_EXPECTED);
  }
  const verifyKey = key.export({ format: 'der', type: 'spki' }).toString('base64');
  if (key.asymmetricKeyType === 'ed25519') return { verifyKey, verifyKeyType: 'ed25519' };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { verifyKey, verifyKeyType: 'p256' };
  return refuse(name, `is ${describe(key)}`, VERIFY_EXPECTED);
}
