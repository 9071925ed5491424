/**
 * Key material settings: the age identity (`CLEF_AGENT_AGE_KEY` / `_FILE`) and the signature verify
 * key (`CLEF_AGENT_VERIFY_KEY`, SPEC §2.2).
 *
 * The main thread never parses the age key: the inline key becomes opaque bytes for the workers
 * (which validate its format) and the variable is deleted from the environment, so child processes
 * never inherit it. A key file is only checked to be a readable regular file, never read here.
 */
import { SealedBytes } from './sealed.js';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { accessSync, constants, statSync } from 'node:fs';
import { refuse, type Issues } from './errors.js';
import { pathValue, read, type Env } from './parse.js';
import { errnoCode, quote } from '../../common/display.js';
import type { AgeKeySource, Config } from './types.js';

const AGE_KEY = 'CLEF_AGENT_AGE_KEY';
const AGE_KEY_FILE = 'CLEF_AGENT_AGE_KEY_FILE';
const FILE_EXPECTED = 'a path to a readable age identity file';

/** Follows symlinks on purpose: Kubernetes mounts secret files as symlinks into `..data/`. */
function checkKeyFile(raw: string, cwd: string, warnings: string[]): AgeKeySource {
  const path = pathValue(AGE_KEY_FILE, raw, cwd, FILE_EXPECTED);
  const shown = quote(path, 200);
  let st;
  try {
    st = statSync(path);
  } catch (err) {
    const code = errnoCode(err) ?? 'unknown error';
    return refuse(AGE_KEY_FILE, code === 'ENOENT' ? `${shown} does not exist` : `${shown} cannot be inspected (${code})`, FILE_EXPECTED);
  }
  if (!st.isFile()) refuse(AGE_KEY_FILE, `${shown} is not a regular file`, FILE_EXPECTED);
  try {
    accessSync(path, constants.R_OK);
  } catch (err) {
    refuse(AGE_KEY_FILE, `${shown} is not readable by this process (${errnoCode(err) ?? 'unknown error'})`, FILE_EXPECTED);
  }
  // Size is metadata, not content: an empty file can be refused without reading it.
  if (st.size === 0) refuse(AGE_KEY_FILE, `${shown} is empty`, FILE_EXPECTED);
  if ((st.mode & 0o077) !== 0) {
    const mode = (st.mode & 0o777).toString(8).padStart(4, '0');
    warnings.push(`CLEF_AGENT_AGE_KEY_FILE ${shown} is accessible to group or others (mode ${mode}); restrict it to 0600 or 0400`);
  }
  return { kind: 'file', path };
}

/** Mutates `env`: CLEF_AGENT_AGE_KEY is removed whatever else happens. */
export function resolveAgeKey(env: Env, cwd: string, issues: Issues, warnings: string[]): AgeKeySource | undefined {
  const inline = read(env, AGE_KEY);
  delete env[AGE_KEY];
  const file = read(env, AGE_KEY_FILE);
  if (inline !== undefined && file !== undefined) {
    issues.add(AGE_KEY, `is set together with ${AGE_KEY_FILE}`, `only one of ${AGE_KEY} or ${AGE_KEY_FILE}`);
    return undefined;
  }
  if (inline !== undefined) {
    // Secret: the value is never quoted. Its format is the workers' business.
    if (inline === '') return issues.run(() => refuse(AGE_KEY, 'is empty', 'an age secret key (AGE-SECRET-KEY-1…)'));
    // process.env hands us a string (which cannot be wiped); from here on only sealed bytes remain.
    // A dedicated buffer, not `Buffer.from` (which slices Node's shared 8 KiB pool): every new
    // worker gets a structured clone of the whole backing ArrayBuffer, which must hold the key only.
    const bytes = Buffer.alloc(Buffer.byteLength(inline, 'utf8'));
    bytes.write(inline, 'utf8');
    return { kind: 'inline', sealed: new SealedBytes(bytes) };
  }
  if (file !== undefined) return issues.run(() => checkKeyFile(file, cwd, warnings));
  // Neither: allowed. KMS artifacts need no age key; an age artifact without one fails the first load.
  return undefined;
}

const VERIFY_KEY = 'CLEF_AGENT_VERIFY_KEY';
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
export function parseVerifyKey(raw: string): Pick<Config, 'verifyKey' | 'verifyKeyType'> {
  if (raw === '') refuse(VERIFY_KEY, 'is empty', VERIFY_EXPECTED);
  if (/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(raw)) refuse(VERIFY_KEY, 'is a private key', VERIFY_EXPECTED);
  const pem = /-----BEGIN PUBLIC KEY-----([\s\S]*?)-----END PUBLIC KEY-----/.exec(raw);
  if (pem === null && raw.includes('-----BEGIN')) refuse(VERIFY_KEY, 'is a PEM block other than PUBLIC KEY', VERIFY_EXPECTED);
  const b64 = (pem?.[1] ?? raw).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0) refuse(VERIFY_KEY, 'is not valid base64', VERIFY_EXPECTED);
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
    return refuse(VERIFY_KEY, isPrivate ? 'is a private key' : 'is not a DER SubjectPublicKeyInfo public key', VERIFY_EXPECTED);
  }
  const verifyKey = key.export({ format: 'der', type: 'spki' }).toString('base64');
  if (key.asymmetricKeyType === 'ed25519') return { verifyKey, verifyKeyType: 'ed25519' };
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return { verifyKey, verifyKeyType: 'p256' };
  return refuse(VERIFY_KEY, `is ${describe(key)}`, VERIFY_EXPECTED);
}
