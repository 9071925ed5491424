/**
 * A local AWS KMS stand-in: a real HTTP server on 127.0.0.1 speaking the KMS wire protocol (AWS
 * JSON 1.1, `X-Amz-Target: TrentService.<Op>`), so the agent's real `@aws-sdk/client-kms` reaches
 * it through `AWS_ENDPOINT_URL_KMS`. Every request's SigV4 signature is recomputed with the test
 * credentials and compared; errors use AWS's real shapes (`__type`, `x-amzn-ErrorType`, status).
 *
 * Keys are real: symmetric keys are 32 random bytes that wrap with AES-256-GCM into an opaque
 * CiphertextBlob; signing keys are ECC_NIST_P256 (node:crypto). Tests flip switches to make it deny,
 * disable a key, throttle, stall, drop connections, refuse connections or hand out a bad data key.
 * Given `tls` (test-tls.ts), it speaks https instead, as real KMS does.
 */
import { createCipheriv, createDecipheriv, createHash, generateKeyPairSync, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';
import { privateScalar, signDigest } from './kms-ecdsa.js';
import type { TestTls } from './test-tls.js';

export const KMS_TEST_CREDENTIALS = { accessKeyId: 'AKIAKMSTESTLOCAL0001', secretAccessKey: 'kms-test-secret-not-a-real-one-0123456789' } as const;
export const KMS_TEST_REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
const OPS = ['Encrypt', 'Decrypt', 'GenerateDataKey', 'Sign', 'GetPublicKey'] as const;
type Op = (typeof OPS)[number];
type Json = Record<string, unknown>;

type Key =
  | { readonly kind: 'symmetric'; readonly arn: string; readonly material: Buffer }
  | { readonly kind: 'ecc'; readonly arn: string; readonly d: bigint; readonly spki: Buffer };

/** Ways the server misbehaves on every request while set. */
export type KmsFault =
  | { readonly kind: 'error'; readonly type: string; readonly status: number; readonly message?: string }
  | { readonly kind: 'slow'; readonly ms: number }
  /** Accept the request, then drop the connection without an answer. */
  | { readonly kind: 'reset' };

class AwsError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

export class KmsServer {
  fault: KmsFault | null = null;
  /** The caller loses kms:* on every key (AccessDeniedException), until set back to false. */
  deny = false;
  /** Key ids (uuid) whose state is Disabled. */
  readonly disabled = new Set<string>();
  /** Decrypt/GenerateDataKey hand out a data key of this many bytes instead of the real one. */
  wrongKeyLength: number | undefined;
  /**
   * Temporary credentials the server also accepts (access key id → secret and session token), as
   * STS hands them out (test/helpers/sts-server.ts): a request signed with one must carry its
   * token in `x-amz-security-token`, as real KMS requires.
   */
  readonly sessions = new Map<string, { readonly secretAccessKey: string; readonly sessionToken: string }>();
  /** Every request that passed the signature check: its operation, outcome, (signed) Host header and access key id. */
  readonly calls: { readonly op: string; readonly outcome: string; readonly host?: string; readonly accessKeyId?: string }[] = [];
  /** Requests refused before any operation ran (bad signature, bad target…). */
  readonly refused: string[] = [];
  /** Copies of every data key handed out, so log scans can look for them. */
  readonly handedOut: Buffer[] = [];
  private readonly keys = new Map<string, Key>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private server: http.Server;
  private boundPort = 0;

  /** `tls`: serve https with this certificate (clients trust `tls.caPem`). */
  constructor(readonly options: { readonly tls?: TestTls } = {}) {
    this.server = this.newServer();
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(this.boundPort, '127.0.0.1', resolve));
    this.boundPort = (this.server.address() as AddressInfo).port;
    return this;
  }

  get port(): number {
    return this.boundPort;
  }

  get endpoint(): string {
    return `${this.options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.boundPort}`;
  }

  /** What the agent (or pack) needs in its environment to reach this server through the real SDK. */
  env(): Record<string, string> {
    return { AWS_ENDPOINT_URL_KMS: this.endpoint, AWS_REGION: KMS_TEST_REGION, ...toEnv(KMS_TEST_CREDENTIALS) };
  }

  /** A new symmetric (SYMMETRIC_DEFAULT) key; returns its ARN. */
  createKey(): string {
    const id = randomUUID();
    const arn = `arn:aws:kms:${KMS_TEST_REGION}:${ACCOUNT}:key/${id}`;
    this.keys.set(id, { kind: 'symmetric', arn, material: randomBytes(32) });
    return arn;
  }

  /** A new ECC_NIST_P256 SIGN_VERIFY key; returns its ARN. */
  createSigningKey(): string {
    const id = randomUUID();
    const arn = `arn:aws:kms:${KMS_TEST_REGION}:${ACCOUNT}:key/${id}`;
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.keys.set(id, { kind: 'ecc', arn, d: privateScalar(privateKey), spki: publicKey.export({ format: 'der', type: 'spki' }) });
    return arn;
  }

  /** Stop accepting connections (clients get ECONNREFUSED) until `start()` listens again on the same port. */
  async refuseConnections(): Promise<void> {
    this.dropAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server = this.newServer();
  }

  async close(): Promise<void> {
    this.dropAll();
    if (this.server.listening) await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private newServer(): http.Server {
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    const tls = this.options.tls;
    const server = tls === undefined ? http.createServer(handler) : https.createServer({ key: tls.keyPem, cert: tls.certPem }, handler);
    server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    return server;
  }

  private dropAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const s of this.sockets) s.destroy();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const fault = this.fault;
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'slow') {
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          this.timers.delete(t);
          resolve();
        }, fault.ms);
        this.timers.add(t);
      });
      if (res.destroyed) return;
    }
    let op: Op | undefined;
    let accessKeyId: string | undefined;
    try {
      ({ op, accessKeyId } = await this.authenticate(req, body));
      if (fault?.kind === 'error') throw new AwsError(fault.type, fault.message ?? `${fault.type} (injected by the test)`, fault.status);
      const out = this.run(op, JSON.parse(body.toString('utf8') || '{}') as Json);
      this.calls.push({ op, outcome: 'ok', host: header(req, 'host') ?? '', accessKeyId });
      this.send(res, 200, out);
    } catch (err) {
      const e = err instanceof AwsError ? err : new AwsError('KMSInternalException', 'internal error in the test server', 500);
      if (op === undefined) this.refused.push(e.type);
      else this.calls.push({ op, outcome: e.type, accessKeyId });
      res.setHeader('x-amzn-ErrorType', `${e.type}:`);
      this.send(res, e.status, { __type: e.type, message: e.message });
    }
  }

  private send(res: ServerResponse, status: number, body: Json): void {
    if (res.destroyed) return;
    const bytes = Buffer.from(JSON.stringify(body), 'utf8');
    res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1', 'Content-Length': bytes.length, 'x-amzn-RequestId': randomUUID() });
    res.end(bytes);
  }

  /** Protocol checks, then SigV4: the request is re-signed with the test secret and compared. */
  private async authenticate(req: IncomingMessage, body: Buffer): Promise<{ op: Op; accessKeyId: string }> {
    const target = header(req, 'x-amz-target') ?? '';
    const op = OPS.find((o) => target === `TrentService.${o}`);
    if (req.method !== 'POST' || req.url !== '/' || op === undefined) throw new AwsError('UnknownOperationException', `unknown operation ${target}`);
    if (header(req, 'content-type') !== 'application/x-amz-json-1.1') throw new AwsError('SerializationException', 'expected application/x-amz-json-1.1');
    const auth = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      header(req, 'authorization') ?? '',
    );
    if (auth === null) throw new AwsError('MissingAuthenticationTokenException', 'Missing Authentication Token');
    const [, keyId, , region, service, signedList = '', signature = ''] = auth;
    const id = keyId ?? '';
    const session = this.sessions.get(id);
    const credentials = id === KMS_TEST_CREDENTIALS.accessKeyId ? KMS_TEST_CREDENTIALS : session === undefined ? undefined : { accessKeyId: id, ...session };
    if (credentials === undefined || ('sessionToken' in credentials && header(req, 'x-amz-security-token') !== credentials.sessionToken)) {
      throw new AwsError('UnrecognizedClientException', 'The security token included in the request is invalid.');
    }
    if (region !== KMS_TEST_REGION || service !== 'kms')
      throw new AwsError('InvalidSignatureException', `Credential should be scoped to a valid region and service kms`);
    const amzDate = header(req, 'x-amz-date') ?? '';
    const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(amzDate);
    const signingDate = m === null ? new Date(NaN) : new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
    if (Number.isNaN(signingDate.getTime()) || Math.abs(Date.now() - signingDate.getTime()) > 15 * 60_000) {
      throw new AwsError('InvalidSignatureException', 'Signature expired or X-Amz-Date is missing');
    }
    const signed = signedList.split(';');
    const headers: Record<string, string> = {};
    for (const h of signed) headers[h] = header(req, h) ?? '';
    const [hostname = '', port] = (header(req, 'host') ?? '').split(':');
    const signer = new SignatureV4({
      credentials,
      region: KMS_TEST_REGION,
      service: 'kms',
      sha256: Hash.bind(null, 'sha256'),
      applyChecksum: signed.includes('x-amz-content-sha256'),
    });
    const expected = await signer.sign(
      { method: 'POST', protocol: 'http:', hostname, port: port === undefined ? undefined : Number(port), path: '/', query: {}, headers, body },
      { signingDate },
    );
    const want = /Signature=([0-9a-f]{64})/.exec(String(expected.headers['authorization'] ?? ''))?.[1] ?? '';
    if (want.length !== signature.length || !timingSafeEqual(Buffer.from(want), Buffer.from(signature))) {
      throw new AwsError(
        'InvalidSignatureException',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
      );
    }
    return { op, accessKeyId: credentials.accessKeyId };
  }

  private run(op: Op, input: Json): Json {
    const key = this.key(op, input);
    switch (op) {
      case 'Encrypt':
        return {
          KeyId: key.arn,
          CiphertextBlob: this.wrap(sym(key, op), blob(input, 'Plaintext')).toString('base64'),
          EncryptionAlgorithm: 'SYMMETRIC_DEFAULT',
        };
      case 'GenerateDataKey': {
        if (input['KeySpec'] !== 'AES_256' && input['NumberOfBytes'] !== 32)
          throw new AwsError('ValidationException', 'this test server makes AES_256 data keys only');
        const dataKey = randomBytes(32);
        const wrapped = this.wrap(sym(key, op), dataKey);
        return { KeyId: key.arn, CiphertextBlob: wrapped.toString('base64'), Plaintext: this.handOut(dataKey).toString('base64') };
      }
      case 'Decrypt': {
        const plain = this.unwrap(sym(key, op), blob(input, 'CiphertextBlob'));
        return { KeyId: key.arn, Plaintext: this.handOut(plain).toString('base64'), EncryptionAlgorithm: 'SYMMETRIC_DEFAULT' };
      }
      case 'Sign': {
        if (key.kind !== 'ecc') throw new AwsError('InvalidKeyUsageException', `${key.arn} is not a SIGN_VERIFY key`);
        if (input['SigningAlgorithm'] !== 'ECDSA_SHA_256') throw new AwsError('ValidationException', 'SigningAlgorithm must be ECDSA_SHA_256 for this key');
        const message = blob(input, 'Message');
        const digest = input['MessageType'] === 'DIGEST' ? message : createHash('sha256').update(message).digest();
        if (digest.length !== 32) throw new AwsError('ValidationException', 'a DIGEST message must be 32 bytes for ECDSA_SHA_256');
        return { KeyId: key.arn, Signature: signDigest(digest, key.d).toString('base64'), SigningAlgorithm: 'ECDSA_SHA_256' };
      }
      case 'GetPublicKey':
        if (key.kind !== 'ecc') throw new AwsError('UnsupportedOperationException', 'this test server has public keys for signing keys only');
        return {
          KeyId: key.arn,
          PublicKey: key.spki.toString('base64'),
          KeySpec: 'ECC_NIST_P256',
          KeyUsage: 'SIGN_VERIFY',
          SigningAlgorithms: ['ECDSA_SHA_256'],
        };
    }
  }

  /** Finds the key (by uuid or ARN; Decrypt without KeyId reads it from the blob) and checks access. */
  private key(op: Op, input: Json): Key {
    let id = typeof input['KeyId'] === 'string' ? input['KeyId'].replace(/^arn:aws:kms:[^:]+:\d+:key\//, '') : undefined;
    const blobKey = op === 'Decrypt' ? blobKeyId(blob(input, 'CiphertextBlob')) : undefined;
    if (op === 'Decrypt' && id !== undefined && blobKey !== undefined && id !== blobKey) {
      throw new AwsError('IncorrectKeyException', 'The key ID in the request does not identify a CMK that can perform this operation.');
    }
    id ??= blobKey;
    if (id === undefined) throw new AwsError(op === 'Decrypt' ? 'InvalidCiphertextException' : 'ValidationException', 'no key identified');
    const key = this.keys.get(id);
    if (key === undefined) throw new AwsError('NotFoundException', `Key 'arn:aws:kms:${KMS_TEST_REGION}:${ACCOUNT}:key/${id}' does not exist`);
    if (this.deny) {
      throw new AwsError(
        'AccessDeniedException',
        `User: arn:aws:sts::${ACCOUNT}:assumed-role/clef-agent-test/agent is not authorized to perform: kms:${op} on resource: ${key.arn} because no identity-based policy allows the kms:${op} action`,
      );
    }
    if (this.disabled.has(id)) throw new AwsError('DisabledException', `${key.arn} is disabled.`);
    return key;
  }

  /** CiphertextBlob: "TKMS" | key-id length | key id | iv(12) | tag(16) | AES-256-GCM(data). */
  private wrap(key: Key & { kind: 'symmetric' }, plaintext: Buffer): Buffer {
    const id = Buffer.from(key.arn.split('/')[1] ?? '', 'utf8');
    const iv = randomBytes(12);
    const c = createCipheriv('aes-256-gcm', key.material, iv);
    const ct = Buffer.concat([c.update(plaintext), c.final()]);
    return Buffer.concat([Buffer.from('TKMS'), Buffer.from([id.length]), id, iv, c.getAuthTag(), ct]);
  }

  private unwrap(key: Key & { kind: 'symmetric' }, wrapped: Buffer): Buffer {
    const at = 5 + (wrapped[4] ?? 0);
    try {
      const d = createDecipheriv('aes-256-gcm', key.material, wrapped.subarray(at, at + 12));
      d.setAuthTag(wrapped.subarray(at + 12, at + 28));
      return Buffer.concat([d.update(wrapped.subarray(at + 28)), d.final()]);
    } catch {
      throw new AwsError('InvalidCiphertextException', '');
    }
  }

  /** The data key as handed to the caller, or a wrong-length one when the test asked for that. */
  private handOut(dataKey: Buffer): Buffer {
    const key = this.wrongKeyLength === undefined ? dataKey : randomBytes(this.wrongKeyLength);
    this.handedOut.push(Buffer.from(key));
    return key;
  }
}

function sym(key: Key, op: Op): Key & { kind: 'symmetric' } {
  if (key.kind !== 'symmetric') throw new AwsError('InvalidKeyUsageException', `${key.arn} cannot be used for ${op}`);
  return key;
}

function blob(input: Json, field: string): Buffer {
  const v = input[field];
  if (typeof v !== 'string' || v === '')
    throw new AwsError('ValidationException', `1 validation error detected: Value at '${field}' failed to satisfy constraint: Member must not be null`);
  return Buffer.from(v, 'base64');
}

function blobKeyId(wrapped: Buffer): string | undefined {
  if (wrapped.subarray(0, 4).toString('latin1') !== 'TKMS' || wrapped.length < 5) throw new AwsError('InvalidCiphertextException', '');
  return wrapped.subarray(5, 5 + (wrapped[4] ?? 0)).toString('utf8');
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function toEnv(c: typeof KMS_TEST_CREDENTIALS): Record<string, string> {
  return { AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey };
}
