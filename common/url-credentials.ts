/**
 * Does a URL carry a credential of its own? Userinfo, or a query parameter that signed or tokenised
 * URLs use: AWS SigV4 and SigV2 presigned URLs, Google Cloud Storage signed URLs, Azure SAS, and
 * OAuth / GitLab-style tokens. Names are matched case-insensitively. Used by the plain-http rule on
 * both sides of the thread line: a verify key authenticates the artifact, not these.
 */
const CREDENTIAL_PARAMS: ReadonlySet<string> = new Set([
  'x-amz-signature',
  'x-amz-credential',
  'x-amz-security-token',
  'signature', // SigV2 query auth, CloudFront signed URLs
  'awsaccesskeyid',
  'x-goog-signature',
  'x-goog-credential',
  'googleaccessid',
  'sig', // Azure SAS
  'access_token',
  'private_token',
  'token',
]);

export function urlCarriesCredentials(url: URL): boolean {
  if (url.username !== '' || url.password !== '') return true;
  for (const name of url.searchParams.keys()) if (CREDENTIAL_PARAMS.has(name.toLowerCase())) return true;
  return false;
}
