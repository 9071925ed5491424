/**
 * KMS side of `clef-agent pack` (SPEC §2): seal a payload in a KMS envelope, and sign artifacts
 * with a KMS ECC_NIST_P256 key. Loaded with a dynamic import only when a KMS flag is used, so
 * age-only packing never loads the AWS SDK.
 *
 * Envelope: `GenerateDataKey` (AES_256) gives a fresh 32-byte data key and its KMS-wrapped form;
 * the payload is sealed with AES-256-GCM (random 12-byte iv, 16-byte tag kept apart, as the agent
 * expects); the data key buffer is zeroed as soon as the payload is sealed.
 */
import { createCipheriv, createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import { GenerateDataKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import type { Envelope } from '../../common/artifact.js';
import { ALLOW_HTTP_VARIABLE, awsEndpointProblems } from '../../common/aws-endpoints.js';
import { quote } from '../../common/display.js';
import { PROXY_CONNECT_TIMEOUT_MS } from '../../common/limits.js';
import { ProxyConfigError, proxyAgents, type NodeProxyAgents } from '../../common/proxy-rules.js';
import { PackError } from './errors.js';
import type { SignatureAlgorithm } from './sign.js';

/** The algorithm the agent passes back to KMS Decrypt: data keys are wrapped by a symmetric key. */
const WRAP_ALGORITHM = 'SYMMETRIC_DEFAULT';

/** A signer whose `sign` may call out (KMS); the local `Signer` of sign.ts fits this shape too. */
export interface PackSigner {
  readonly algorithm: SignatureAlgorithm;
  /** Base64 DER SubjectPublicKeyInfo: the value for `CLEF_AGENT_VERIFY_KEY`. */
  readonly verifyKey: string;
  sign(payload: Buffer): string | Promise<string>;
}

/**
 * The SDK client pack uses: default credential chain and region, `AWS_ENDPOINT_URL_KMS` honoured,
 * and `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` by the agent's rules (common/proxy-rules.ts). The
 * endpoints follow the agent's plain-http rule: GenerateDataKey answers with the plaintext data key.
 */
export function defaultKmsClient(env: NodeJS.ProcessEnv = process.env): KMSClient {
  checkEndpoints(env);
  let agents: NodeProxyAgents;
  try {
    agents = proxyAgents(PROXY_CONNECT_TIMEOUT_MS);
  } catch (err) {
    // Its message names the variable, never the value (which may hold proxy credentials).
    if (err instanceof ProxyConfigError) throw new PackError(err.message);
    throw err;
  }
  return new KMSClient({ maxAttempts: 3, ...(Object.keys(agents).length === 0 ? {} : { requestHandler: agents }) });
}

/** The endpoints pack's calls use (KMS, and STS for web-identity credentials), as the agent checks them. */
function checkEndpoints(env: NodeJS.ProcessEnv): void {
  const raw = env[ALLOW_HTTP_VARIABLE];
  const v = raw?.toLowerCase();
  if (raw !== undefined && v !== 'true' && v !== '1' && v !== 'false' && v !== '0') {
    throw new PackError(`${ALLOW_HTTP_VARIABLE}: ${raw === '' ? 'is empty' : `${quote(raw)} is not a boolean`}; expected true, false, 1 or 0`);
  }
  const problems = awsEndpointProblems(env, v === 'true' || v === '1', ['AWS_ENDPOINT_URL', 'AWS_ENDPOINT_URL_KMS', 'AWS_ENDPOINT_URL_STS']);
  if (problems.length > 0) throw new PackError(problems.map((p) => `${p.variable}: ${p.problem}; expected ${p.expected}`).join('\n'));
}

/** Seals `plaintext` (not modified; the caller wipes it) in a KMS envelope under `keyId`. */
export async function sealWithKms(client: KMSClient, keyId: string, plaintext: Uint8Array): Promise<{ ciphertext: string; envelope: Envelope }> {
  const out = await call('GenerateDataKey', '--kms-key-id', () => client.send(new GenerateDataKeyCommand({ KeyId: keyId, KeySpec: 'AES_256' })));
  const dataKey = out.Plaintext;
  const wrapped = out.CiphertextBlob;
  try {
    if (dataKey?.byteLength !== 32 || wrapped === undefined || wrapped.byteLength === 0) {
      throw new PackError(`KMS GenerateDataKey answered without a 32-byte data key and its CiphertextBlob (--kms-key-id ${keyId})`, { exitCode: 1 });
    }
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv, { authTagLength: 16 });
    const sealed = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return {
      ciphertext: sealed.toString('base64'),
      envelope: {
        provider: 'aws',
        // The KMS answer names the key by ARN: pinning the exact key, even when an alias was given.
        keyId: out.KeyId ?? keyId,
        wrappedKey: Buffer.from(wrapped).toString('base64'),
        algorithm: WRAP_ALGORITHM,
        iv: iv.toString('base64'),
        authTag: cipher.getAuthTag().toString('base64'),
      },
    };
  } finally {
    dataKey?.fill(0);
  }
}

/**
 * A signer backed by a KMS ECC_NIST_P256 key: `Sign` with `MessageType: DIGEST` over the SHA-256
 * of the signing payload (so KMS never sees the payload itself) and `ECDSA_SHA_256`, which returns
 * the DER signature the agent verifies with the key's public half (from `GetPublicKey`).
 */
export async function kmsSigner(client: KMSClient, keyId: string): Promise<PackSigner> {
  const pub = await call('GetPublicKey', '--sign-kms-key-id', () => client.send(new GetPublicKeyCommand({ KeyId: keyId })));
  if (pub.PublicKey === undefined) throw new PackError(`KMS GetPublicKey answered without a public key (--sign-kms-key-id ${keyId})`, { exitCode: 1 });
  const der = Buffer.from(pub.PublicKey);
  const publicKey = createPublicKey({ key: der, format: 'der', type: 'spki' });
  if (publicKey.asymmetricKeyType !== 'ec' || publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new PackError(`--sign-kms-key-id ${keyId} is a ${pub.KeySpec ?? 'non-P-256'} key; the agent verifies ECC_NIST_P256 (ECDSA_SHA_256) KMS keys`);
  }
  return {
    algorithm: 'ECDSA_SHA256',
    verifyKey: der.toString('base64'),
    async sign(payload: Buffer): Promise<string> {
      const digest = createHash('sha256').update(payload).digest();
      const out = await call('Sign', '--sign-kms-key-id', () =>
        client.send(new SignCommand({ KeyId: keyId, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' })),
      );
      const signature = out.Signature === undefined ? Buffer.alloc(0) : Buffer.from(out.Signature);
      // The same insurance as local signing: what we hand out verifies the way the agent verifies.
      if (!verify('sha256', payload, { key: publicKey, dsaEncoding: 'der' }, signature)) {
        throw new PackError(`KMS Sign returned a signature that does not verify under the key's public key (--sign-kms-key-id ${keyId})`, { exitCode: 1 });
      }
      return signature.toString('base64');
    },
  };
}

/** Input mistakes (exit 2) as opposed to failures of the run (exit 1). */
const BAD_INPUT = new Set(['NotFoundException', 'InvalidKeyUsageException', 'ValidationException', 'InvalidArnException', 'UnsupportedOperationException']);

/** Runs one KMS call; SDK errors become PackErrors naming the flag, the exception and KMS's message. */
async function call<T>(op: string, flag: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    const e = err as { name?: unknown; message?: unknown; $metadata?: { httpStatusCode?: unknown } };
    const name = typeof e.name === 'string' ? e.name : 'Error';
    // KMS messages name keys and roles, never key material; other errors (network) are named only,
    // but for a refused proxy tunnel, whose message (proxy-rules.ts) is a host and a status.
    const detail =
      (typeof e.$metadata?.httpStatusCode === 'number' || name === 'ProxyTunnelError') && typeof e.message === 'string' ? `: ${e.message.slice(0, 300)}` : '';
    throw new PackError(`KMS ${op} failed for ${flag} (${name})${detail}`, { exitCode: BAD_INPUT.has(name) ? 2 : 1 });
  }
}
