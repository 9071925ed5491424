/**
 * A local AWS KMS stand-in: a real HTTP server on 127.0.0.1 speaking the KMS wire protocol (AWS
 * JSON 1.1, `X-Amz-Target: TrentService.<Op>`), so the agent's real `@aws-sdk/client-kms` reaches
 * it through `AWS_ENDPOINT_URL_KMS`. Every request's SigV4 signature is checked (sigv4.ts) against
 * the test credentials or the temporary ones STS handed out; errors use AWS's real shapes
 * (`__type`, `x-amzn-ErrorType`, status). The keys and operations are in kms-keys.ts.
 *
 * Tests flip switches to make it deny, disable a key, throttle, stall, drop connections, refuse
 * connections or hand out a bad data key. Given `tls` (test-tls.ts), it speaks https instead, as
 * real KMS does.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AwsError, KMS_OPS, KMS_TEST_REGION, KmsKeys, type Json, type KmsOp } from './kms-keys.js';
import { LocalServer } from './local-server.js';
import { header, verifySigV4, type SigV4Failure } from './sigv4.js';
import type { TestTls } from './test-tls.js';

export { KMS_TEST_REGION } from './kms-keys.js';
export const KMS_TEST_CREDENTIALS = { accessKeyId: 'AKIAKMSTESTLOCAL0001', secretAccessKey: 'kms-test-secret-not-a-real-one-0123456789' } as const;

/** Ways the server misbehaves on every request while set. */
export type KmsFault =
  | { readonly kind: 'error'; readonly type: string; readonly status: number; readonly message?: string }
  | { readonly kind: 'slow'; readonly ms: number }
  /** Accept the request, then drop the connection without an answer. */
  | { readonly kind: 'reset' };

/** KMS's answer to each way a signature check fails. */
const REFUSALS: Record<SigV4Failure, readonly [type: string, message: string]> = {
  malformed: ['MissingAuthenticationTokenException', 'Missing Authentication Token'],
  unknown_key: ['UnrecognizedClientException', 'The security token included in the request is invalid.'],
  bad_token: ['UnrecognizedClientException', 'The security token included in the request is invalid.'],
  wrong_scope: ['InvalidSignatureException', 'Credential should be scoped to a valid region and service kms'],
  expired: ['InvalidSignatureException', 'Signature expired or X-Amz-Date is missing'],
  mismatch: [
    'InvalidSignatureException',
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
  ],
};

export class KmsServer extends LocalServer {
  fault: KmsFault | null = null;
  /** The caller loses kms:* on every key (AccessDeniedException), until set back to false. */
  deny = false;
  /** Key ids (uuid) whose state is Disabled. */
  readonly disabled = new Set<string>();
  /** Decrypt/GenerateDataKey hand out a data key of this many bytes instead of the real one. */
  wrongKeyLength: number | undefined;
  /**
   * Temporary credentials the server also accepts (access key id → secret and session token), as
   * STS hands them out (sts-server.ts): a request signed with one must carry its token in
   * `x-amz-security-token`, as real KMS requires.
   */
  readonly sessions = new Map<string, { readonly secretAccessKey: string; readonly sessionToken: string }>();
  /** Every request that passed the signature check: its operation, outcome, (signed) Host header and access key id. */
  readonly calls: { readonly op: string; readonly outcome: string; readonly host?: string; readonly accessKeyId?: string }[] = [];
  /** Requests refused before any operation ran (bad signature, bad target…). */
  readonly refused: string[] = [];
  /** Copies of every data key handed out, so log scans can look for them. */
  readonly handedOut: Buffer[] = [];
  private readonly keys = new KmsKeys();
  private readonly timers = new Set<NodeJS.Timeout>();

  /** `tls`: serve https with this certificate (clients trust `tls.caPem`). */
  constructor(readonly options: { readonly tls?: TestTls } = {}) {
    super(options.tls);
  }

  /** What the agent (or pack) needs in its environment to reach this server through the real SDK. */
  env(): Record<string, string> {
    return {
      AWS_ENDPOINT_URL_KMS: this.endpoint,
      AWS_REGION: KMS_TEST_REGION,
      AWS_ACCESS_KEY_ID: KMS_TEST_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KMS_TEST_CREDENTIALS.secretAccessKey,
    };
  }

  /** A new symmetric (SYMMETRIC_DEFAULT) key; returns its ARN. */
  createKey(): string {
    return this.keys.createKey();
  }

  /** A new ECC_NIST_P256 SIGN_VERIFY key; returns its ARN. */
  createSigningKey(): string {
    return this.keys.createSigningKey();
  }

  override dropAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    super.dropAll();
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const fault = this.fault;
    if (fault?.kind === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault?.kind === 'slow') {
      await this.delay(fault.ms);
      if (res.destroyed) return;
    }
    let op: KmsOp | undefined;
    let accessKeyId: string | undefined;
    try {
      ({ op, accessKeyId } = await this.authenticate(req, body));
      if (fault?.kind === 'error') throw new AwsError(fault.type, fault.message ?? `${fault.type} (injected by the test)`, fault.status);
      const out = this.keys.run(op, JSON.parse(body.toString('utf8') || '{}') as Json, {
        deny: this.deny,
        disabled: this.disabled,
        handOut: (dataKey) => this.handOut(dataKey),
      });
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

  private delay(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private send(res: ServerResponse, status: number, body: Json): void {
    if (res.destroyed) return;
    const bytes = Buffer.from(JSON.stringify(body), 'utf8');
    res.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1', 'Content-Length': bytes.length, 'x-amzn-RequestId': randomUUID() });
    res.end(bytes);
  }

  /** Protocol checks (operation, method, path, content type), then SigV4. */
  private async authenticate(req: IncomingMessage, body: Buffer): Promise<{ op: KmsOp; accessKeyId: string }> {
    const target = header(req, 'x-amz-target') ?? '';
    const op = KMS_OPS.find((o) => target === `TrentService.${o}`);
    if (req.method !== 'POST' || req.url !== '/' || op === undefined) throw new AwsError('UnknownOperationException', `unknown operation ${target}`);
    if (header(req, 'content-type') !== 'application/x-amz-json-1.1') throw new AwsError('SerializationException', 'expected application/x-amz-json-1.1');
    const auth = await verifySigV4(req, body, {
      service: 'kms',
      region: KMS_TEST_REGION,
      secretFor: (id) => (id === KMS_TEST_CREDENTIALS.accessKeyId ? KMS_TEST_CREDENTIALS : this.sessions.get(id)),
    });
    if (!auth.ok) throw new AwsError(...REFUSALS[auth.failure]);
    return { op, accessKeyId: auth.accessKeyId };
  }

  /** The data key as handed to the caller, or a wrong-length one when the test asked for that. */
  private handOut(dataKey: Buffer): Buffer {
    const key = this.wrongKeyLength === undefined ? dataKey : randomBytes(this.wrongKeyLength);
    this.handedOut.push(Buffer.from(key));
    return key;
  }
}
