/**
 * A local AWS STS endpoint for `AssumeRoleWithWebIdentity`, the call behind EKS IAM roles for
 * service accounts (IRSA): the SDK's web-identity credential provider reads
 * AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN and POSTs them here (the AWS Query protocol: a
 * form-encoded body, an XML answer; the call is unsigned, the token is the proof). Reached through
 * `AWS_ENDPOINT_URL_STS`. A right token for the right role gets fresh temporary credentials, which
 * are registered with the service that must accept them (KmsServer.sessions, S3Server.credentials);
 * anything else gets STS's own error shape. `WebIdentity` adds the pod's side: the projected token
 * file and the environment EKS sets.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalServer } from './local-server.js';
import type { TestTls } from './test-tls.js';

export interface IssuedCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken: string;
}

/** Where issued credentials are accepted: the test KMS server's `sessions`, the S3 server's `credentials`. */
export interface CredentialRegistry {
  set(accessKeyId: string, c: { readonly secretAccessKey: string; readonly sessionToken: string }): unknown;
}

export interface StsCall {
  readonly action: string;
  readonly roleArn: string;
  readonly outcome: string;
}

export class StsServer extends LocalServer {
  readonly calls: StsCall[] = [];
  readonly issued: IssuedCredentials[] = [];

  /**
   * `token` is the web identity token the role trusts; `roleArn` the role it may assume; `tls`:
   * serve https with this certificate (clients trust `tls.caPem`).
   */
  constructor(
    private readonly expected: { readonly token: string; readonly roleArn: string },
    private readonly issueTo: CredentialRegistry,
    tls?: TestTls,
  ) {
    super(tls);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const action = form.get('Action') ?? '';
    const roleArn = form.get('RoleArn') ?? '';
    const fail = (status: number, code: string, message: string): void => {
      this.calls.push({ action, roleArn, outcome: code });
      send(
        res,
        status,
        `<ErrorResponse xmlns="${NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
      );
    };
    if (req.method !== 'POST' || !String(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return fail(400, 'InvalidAction', 'expected a form-encoded POST');
    }
    if (action !== 'AssumeRoleWithWebIdentity' || form.get('Version') !== '2011-06-15') return fail(400, 'InvalidAction', `unsupported action ${action}`);
    if (form.get('WebIdentityToken') !== this.expected.token)
      return fail(400, 'InvalidIdentityToken', 'Couldn&apos;t retrieve verification key from your identity provider');
    if (roleArn !== this.expected.roleArn) return fail(403, 'AccessDenied', 'Not authorized to perform sts:AssumeRoleWithWebIdentity');
    const c: IssuedCredentials = {
      accessKeyId: `ASIA${randomBytes(8).toString('hex').toUpperCase()}`,
      secretAccessKey: randomBytes(30).toString('base64'),
      sessionToken: `IQoJb3JpZ2luX2VjE${randomBytes(48).toString('base64')}`,
    };
    this.issued.push(c);
    this.issueTo.set(c.accessKeyId, { secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken });
    this.calls.push({ action, roleArn, outcome: 'ok' });
    const session = form.get('RoleSessionName') ?? 'session';
    const expiration = new Date(Date.now() + 3600_000).toISOString();
    send(
      res,
      200,
      `<AssumeRoleWithWebIdentityResponse xmlns="${NS}"><AssumeRoleWithWebIdentityResult>` +
        `<Credentials><AccessKeyId>${c.accessKeyId}</AccessKeyId><SecretAccessKey>${c.secretAccessKey}</SecretAccessKey>` +
        `<SessionToken>${c.sessionToken}</SessionToken><Expiration>${expiration}</Expiration></Credentials>` +
        `<SubjectFromWebIdentityToken>system:serviceaccount:apps:clef-agent</SubjectFromWebIdentityToken>` +
        `<AssumedRoleUser><Arn>${roleArn.replace(':iam::', ':sts::').replace(':role/', ':assumed-role/')}/${session}</Arn>` +
        `<AssumedRoleId>AROA0000000000000000:${session}</AssumedRoleId></AssumedRoleUser>` +
        `<Audience>sts.amazonaws.com</Audience><Provider>arn:aws:iam::111122223333:oidc-provider/oidc.eks.test</Provider>` +
        `</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
    );
  }
}

/**
 * A pod with an IAM role for its service account: the local STS trusting `token` for `roleArn`, and
 * the projected token files the pod's agents read.
 */
export class WebIdentity {
  private files = 0;

  private constructor(
    readonly sts: StsServer,
    readonly roleArn: string,
    private readonly dir: string,
  ) {}

  static async start(o: {
    readonly token: string;
    readonly roleArn: string;
    readonly issueTo: CredentialRegistry;
    readonly tls?: TestTls;
  }): Promise<WebIdentity> {
    const sts = await new StsServer({ token: o.token, roleArn: o.roleArn }, o.issueTo, o.tls).start();
    return new WebIdentity(sts, o.roleArn, mkdtempSync(join(tmpdir(), 'clef-irsa-')));
  }

  /**
   * `base` as EKS leaves it for IRSA: its static AWS keys removed, `token` written as the projected
   * token file, the role and the STS endpoint set (`stsUrl`: e.g. a name only a proxy can reach).
   */
  env(base: Readonly<Record<string, string>>, token: string, stsUrl = this.sts.endpoint): Record<string, string> {
    const tokenFile = join(this.dir, `token-${this.files++}`);
    writeFileSync(tokenFile, token, { mode: 0o600 });
    const { AWS_ACCESS_KEY_ID: _id, AWS_SECRET_ACCESS_KEY: _secret, ...rest } = base;
    return {
      ...rest,
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: this.roleArn,
      AWS_ENDPOINT_URL_STS: stsUrl,
      AWS_EC2_METADATA_DISABLED: 'true',
    };
  }

  async close(): Promise<void> {
    await this.sts.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

function send(res: ServerResponse, status: number, xml: string): void {
  const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`, 'utf8');
  res.writeHead(status, { 'Content-Type': 'text/xml', 'Content-Length': body.length, 'x-amzn-RequestId': randomUUID() });
  res.end(body);
}
