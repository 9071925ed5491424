/**
 * A small S3-compatible server (path style, GET only) that checks every request's SigV4 signature
 * by re-signing it with the AWS SDK's own signer (@smithy/signature-v4) using the secret it knows
 * for the request's access key, and comparing. Answers like S3: 403 SignatureDoesNotMatch /
 * InvalidAccessKeyId / InvalidToken XML, 404 NoSuchKey, ETag and 304 on a matching If-None-Match.
 */
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

export interface S3Credential {
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface S3Request {
  readonly path: string;
  readonly headers: http.IncomingHttpHeaders;
  /** Outcome: 'ok', '304', or the S3 error code. */
  readonly outcome: string;
  /** Region and service from the credential scope. */
  readonly scope?: string;
}

export class S3Server {
  /** `bucket/key` (decoded) → body. */
  readonly objects = new Map<string, string>();
  readonly credentials = new Map<string, S3Credential>();
  readonly requests: S3Request[] = [];
  /** When set, every request is answered with this status (an outage). */
  down: number | undefined;
  private readonly server = http.createServer((req, res) => void this.handle(req, res));

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  put(bucket: string, key: string, body: string): void {
    this.objects.set(`${bucket}/${key}`, body);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://placeholder');
    const record = (outcome: string, scope?: string): void => void this.requests.push({ path: url.pathname, headers: req.headers, outcome, scope });
    if (this.down !== undefined) {
      record(`down-${this.down}`);
      return void res.writeHead(this.down).end();
    }
    const auth = req.headers['authorization'] ?? '';
    const m = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/s3\/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$/.exec(auth);
    if (m === null) return this.error(res, 403, 'AccessDenied', record);
    const [, akid = '', , region = '', signedHeaders = ''] = m;
    const scope = region;
    const cred = this.credentials.get(akid);
    if (cred === undefined) return this.error(res, 403, 'InvalidAccessKeyId', record, scope);
    if (cred.sessionToken !== undefined && req.headers['x-amz-security-token'] !== cred.sessionToken)
      return this.error(res, 403, 'InvalidToken', record, scope);
    const amzDate = String(req.headers['x-amz-date'] ?? '');
    const signingDate = new Date(amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'));
    const headers: Record<string, string> = {};
    for (const name of signedHeaders.split(';')) headers[name] = String(req.headers[name] ?? '');
    const query: Record<string, string> = {};
    for (const [k, v] of url.searchParams) query[k] = v;
    const signer = new SignatureV4({
      service: 's3',
      region,
      credentials: { accessKeyId: akid, secretAccessKey: cred.secretAccessKey, sessionToken: cred.sessionToken },
      sha256: Hash.bind(null, 'sha256'),
      uriEscapePath: false,
      applyChecksum: true,
    });
    const expected = await signer.sign(
      { method: req.method ?? 'GET', protocol: 'http:', hostname: 'placeholder', path: url.pathname, query, headers },
      { signingDate, signableHeaders: new Set(signedHeaders.split(';')) },
    );
    if (expected.headers['authorization'] !== auth) return this.error(res, 403, 'SignatureDoesNotMatch', record, scope);
    const [, bucket = '', ...rest] = url.pathname.split('/');
    const key = rest.map((s) => decodeURIComponent(s)).join('/');
    const body = this.objects.get(`${decodeURIComponent(bucket)}/${key}`);
    if (body === undefined) return this.error(res, 404, 'NoSuchKey', record, scope);
    const etag = `"${createHash('md5').update(body).digest('hex')}"`;
    if (req.headers['if-none-match'] === etag) {
      record('304', scope);
      return void res.writeHead(304, { ETag: etag }).end();
    }
    record('ok', scope);
    res.writeHead(200, { ETag: etag, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }

  private error(res: ServerResponse, status: number, code: string, record: (o: string, scope?: string) => void, scope?: string): void {
    record(code, scope);
    res.writeHead(status, { 'Content-Type': 'application/xml' });
    res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`);
  }
}
