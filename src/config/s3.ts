/**
 * S3 locations in CLEF_AGENT_SOURCE (SPEC §3): `s3://bucket/key`, virtual-hosted
 * `https://bucket.s3[.region].amazonaws.com/key` and path-style `https://s3[.region].amazonaws.com/bucket/key`
 * (legacy `s3-region`, dualstack and China forms included). The request URL is built here once:
 * AWS's own host for AWS, or path-style under `AWS_ENDPOINT_URL_S3` for S3-compatible stores.
 */
import type { S3SourceSpec } from '../../common/protocol.js';
import { refuse } from './errors.js';
import { read, type Env } from './parse.js';
import { checkAwsEndpoint } from '../../common/aws-endpoints.js';
import { maskUrl, quote } from '../../common/display.js';
import { VARIABLES } from './variables.js';

const SOURCE = VARIABLES.source.name;
const S3_EXPECTED = 's3://bucket/key, https://bucket.s3.<region>.amazonaws.com/key or https://s3.<region>.amazonaws.com/bucket/key';

/** Virtual-hosted and path-style S3 hosts. */
export const S3_HOST = /(^|\.)s3([.-][a-z0-9-]+)*\.amazonaws\.com(\.cn)?$/i;

/** A presigned URL already carries its authorization: it is fetched as a plain https URL. */
export function isPresigned(url: URL): boolean {
  return url.searchParams.has('X-Amz-Signature') || url.searchParams.has('Signature');
}

export interface S3Result {
  readonly source: S3SourceSpec;
  readonly label: string;
  /** The request goes to AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL (checked by their own rule). */
  readonly viaEndpoint: boolean;
}

/** Bucket names: 3–63 characters; legacy us-east-1 buckets may also use capitals and underscores. */
const BUCKET = /^[A-Za-z0-9][A-Za-z0-9._-]{1,62}$/;

/** `s3://bucket/key`: the region must come from the environment (nothing in the URL says it). */
export function parseS3Url(url: URL, env: Env): S3Result {
  const shown = quote(maskUrl(url), 120);
  const bucket = url.hostname;
  const key = decodeKey(url.pathname, shown);
  if (!BUCKET.test(bucket)) refuse(SOURCE, `${shown} does not name a valid bucket`, S3_EXPECTED);
  const region = read(env, 'AWS_REGION') || read(env, 'AWS_DEFAULT_REGION');
  if (region === undefined || region === '') {
    return refuse(
      SOURCE,
      `${shown} does not say its region, and neither AWS_REGION nor AWS_DEFAULT_REGION is set`,
      'AWS_REGION (e.g. eu-west-1) set for an s3:// source, or the https://bucket.s3.<region>.amazonaws.com/key form',
    );
  }
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  // Buckets with dots break the TLS wildcard of virtual-hosted names: use path style for them.
  const aws = bucket.includes('.')
    ? `https://s3.${region}.${suffix}/${bucket}/${encodeKey(key)}`
    : `https://${bucket}.s3.${region}.${suffix}/${encodeKey(key)}`;
  return withEndpoint({ kind: 's3', url: aws, region, bucket, key }, `s3://${bucket}/${key}`, url.search, env);
}

/** An https URL on an S3 host (not presigned): bucket, key and region are read from it. */
export function parseS3Https(url: URL, env: Env): S3Result {
  const shown = quote(maskUrl(url), 120);
  const host = url.hostname.toLowerCase().replace(/\.amazonaws\.com(\.cn)?$/, '');
  const labels = host.split('.');
  // The last `s3` / `s3-…` label separates the bucket (before) from the region (after).
  let i = labels.length - 1;
  while (i >= 0 && !/^s3(-.+)?$/.test(labels[i] ?? '')) i--;
  const s3Label = labels[i] ?? 's3';
  const after = labels.slice(i + 1).filter((l) => l !== 'dualstack');
  const legacy = s3Label.startsWith('s3-') ? s3Label.slice(3) : undefined;
  const region = after[0] ?? (legacy !== undefined && legacy !== 'external-1' ? legacy : 'us-east-1');
  let bucket = labels.slice(0, i).join('.');
  let keyPath = url.pathname;
  if (bucket === '') {
    const m = /^\/([^/]+)(\/.*)?$/.exec(url.pathname);
    bucket = decodeURIComponent(m?.[1] ?? '');
    keyPath = m?.[2] ?? '/';
  }
  if (!BUCKET.test(bucket)) refuse(SOURCE, `${shown} does not name a valid bucket`, S3_EXPECTED);
  const key = decodeKey(keyPath, shown);
  const aws = new URL(url.href);
  aws.hash = '';
  return withEndpoint({ kind: 's3', url: aws.href, region, bucket, key }, maskUrl(url), url.search, env);
}

/**
 * `AWS_ENDPOINT_URL_S3` (or the global `AWS_ENDPOINT_URL`): path style under that base. A value
 * that is not a usable endpoint is left out here; the AWS endpoint check (common/aws-endpoints.ts)
 * refuses it with its own message, once for every source kind.
 */
function withEndpoint(spec: S3SourceSpec, label: string, search: string, env: Env): S3Result {
  const name = (read(env, 'AWS_ENDPOINT_URL_S3') ?? '') !== '' ? 'AWS_ENDPOINT_URL_S3' : 'AWS_ENDPOINT_URL';
  const ep = checkAwsEndpoint(name, read(env, name), undefined);
  if (!(ep instanceof URL)) return { source: spec, label, viaEndpoint: false };
  const base = `${ep.origin}${ep.pathname.replace(/\/+$/, '')}`;
  const region = read(env, 'AWS_REGION') || read(env, 'AWS_DEFAULT_REGION') || spec.region;
  const url = `${base}/${encodeURIComponent(spec.bucket)}/${encodeKey(spec.key)}${search}`;
  return { source: { ...spec, url, region }, label: `${label} via ${maskUrl(ep)}`, viaEndpoint: true };
}

function decodeKey(pathname: string, shown: string): string {
  let key: string;
  try {
    key = decodeURIComponent(pathname.replace(/^\//, ''));
  } catch {
    return refuse(SOURCE, `${shown} has an object key that is not valid percent-encoding`, S3_EXPECTED);
  }
  if (key === '') refuse(SOURCE, `${shown} names no object key`, S3_EXPECTED);
  return key;
}

/** S3 keys in a request path: every segment percent-encoded as RFC 3986 asks (SigV4 signs it so). */
function encodeKey(key: string): string {
  return key
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}
