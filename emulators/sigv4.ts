/**
 * AWS Signature Version 4 as a service checks it: the request is signed again with the AWS SDK's
 * own signer (@smithy/signature-v4), using the secret the service knows for the request's access
 * key, and the two signatures are compared. Each emulator maps a failure to its service's error.
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

export interface SigV4Secret {
  readonly secretAccessKey: string;
  /** Temporary credentials: the request must carry this in `x-amz-security-token`. */
  readonly sessionToken?: string | undefined;
}

export type SigV4Failure =
  /** No (well-formed) `AWS4-HMAC-SHA256` Authorization header. */
  | 'malformed'
  | 'unknown_key'
  | 'bad_token'
  /** Signed for another service, or another region than the service's. */
  | 'wrong_scope'
  /** X-Amz-Date missing or more than 15 minutes off. */
  | 'expired'
  | 'mismatch';

export type SigV4Result =
  | { readonly ok: true; readonly accessKeyId: string; readonly region: string }
  | { readonly ok: false; readonly failure: SigV4Failure; readonly region?: string };

export interface SigV4Check {
  readonly service: string;
  /** The only region accepted; any when unset. */
  readonly region?: string;
  /** The secret for an access key id, or undefined for an unknown one. */
  readonly secretFor: (accessKeyId: string) => SigV4Secret | undefined;
  /** S3 signs the path as sent; other services encode it once more (the SDK default). */
  readonly uriEscapePath?: boolean;
}

const AUTH = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;
const MAX_SKEW_MS = 15 * 60_000;

export async function verifySigV4(req: IncomingMessage, body: Buffer | undefined, check: SigV4Check): Promise<SigV4Result> {
  const auth = AUTH.exec(header(req, 'authorization') ?? '');
  if (auth === null) return { ok: false, failure: 'malformed' };
  const [, accessKeyId = '', , region = '', service = '', signedList = '', signature = ''] = auth;
  const secret = check.secretFor(accessKeyId);
  if (secret === undefined) return { ok: false, failure: 'unknown_key', region };
  if (secret.sessionToken !== undefined && header(req, 'x-amz-security-token') !== secret.sessionToken) return { ok: false, failure: 'bad_token', region };
  if (service !== check.service || (check.region !== undefined && region !== check.region)) return { ok: false, failure: 'wrong_scope', region };
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(header(req, 'x-amz-date') ?? '');
  const signingDate = m === null ? new Date(NaN) : new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`);
  if (Number.isNaN(signingDate.getTime()) || Math.abs(Date.now() - signingDate.getTime()) > MAX_SKEW_MS) return { ok: false, failure: 'expired', region };

  const signed = signedList.split(';');
  const headers: Record<string, string> = {};
  for (const name of signed) headers[name] = header(req, name) ?? '';
  const url = new URL(req.url ?? '/', 'http://placeholder');
  const query: Record<string, string> = {};
  for (const [k, v] of url.searchParams) query[k] = v;
  const signer = new SignatureV4({
    service,
    region,
    credentials: { accessKeyId, ...secret },
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: check.uriEscapePath ?? true,
    applyChecksum: signed.includes('x-amz-content-sha256'),
  });
  const expected = await signer.sign(
    { method: req.method ?? 'GET', protocol: 'http:', hostname: 'placeholder', path: url.pathname, query, headers, body },
    { signingDate, signableHeaders: new Set(signed) },
  );
  const want = Buffer.from(/Signature=([0-9a-f]{64})/.exec(String(expected.headers['authorization'] ?? ''))?.[1] ?? '');
  const got = Buffer.from(signature);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return { ok: false, failure: 'mismatch', region };
  return { ok: true, accessKeyId, region };
}

export function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}
