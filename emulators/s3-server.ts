/**
 * A small S3-compatible server (path style, GET only) that checks every request's SigV4 signature
 * (sigv4.ts). Answers like S3: 403 SignatureDoesNotMatch /
 * InvalidAccessKeyId / InvalidToken XML, 404 NoSuchKey, ETag and 304 on a matching If-None-Match.
 */
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { LocalServer } from './local-server.js';
import { verifySigV4, type SigV4Failure } from './sigv4.js';

export interface S3Credential {
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

export interface S3Request {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** Outcome: 'ok', '304', or the S3 error code. */
  readonly outcome: string;
  /** Region and service from the credential scope. */
  readonly scope?: string;
}

/** S3's answer to each way a signature check fails. */
const REFUSALS: Record<SigV4Failure, string> = {
  malformed: 'AccessDenied',
  unknown_key: 'InvalidAccessKeyId',
  bad_token: 'InvalidToken',
  wrong_scope: 'AccessDenied',
  expired: 'RequestTimeTooSkewed',
  mismatch: 'SignatureDoesNotMatch',
};

export class S3Server extends LocalServer {
  /** `bucket/key` (decoded) → body. */
  readonly objects = new Map<string, string>();
  readonly credentials = new Map<string, S3Credential>();
  readonly requests: S3Request[] = [];
  /** When set, every request is answered with this status (an outage). */
  down: number | undefined;

  put(bucket: string, key: string, body: string): void {
    this.objects.set(`${bucket}/${key}`, body);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://placeholder');
    const record = (outcome: string, scope?: string): void => void this.requests.push({ path: url.pathname, headers: req.headers, outcome, scope });
    if (this.down !== undefined) {
      record(`down-${this.down}`);
      return void res.writeHead(this.down).end();
    }
    const auth = await verifySigV4(req, undefined, { service: 's3', secretFor: (id) => this.credentials.get(id), uriEscapePath: false });
    if (!auth.ok) return this.error(res, 403, REFUSALS[auth.failure], record, auth.region);
    const scope = auth.region;
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
