/**
 * A real local HTTP server that serves an artifact and can be told to misbehave: answer with any
 * status, hang, redirect, gzip, or send more than a size cap. Counts the requests it saw.
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { LocalServer } from './local-server.js';

export type Behaviour =
  | { readonly kind: 'serve' }
  | { readonly kind: 'status'; readonly status: number; readonly headers?: Record<string, string> }
  | { readonly kind: 'hang' }
  | { readonly kind: 'redirect'; readonly location: string; readonly status?: number }
  | { readonly kind: 'custom'; readonly handler: (req: IncomingMessage, res: ServerResponse) => void };

export class ArtifactServer extends LocalServer {
  body: string = '';
  behaviour: Behaviour = { kind: 'serve' };
  gzip = false;
  /** Send an ETag and answer 304 to a matching If-None-Match. */
  etags = true;
  requests: IncomingMessage[] = [];

  url(path = '/artifact.json'): string {
    return `${this.endpoint}${path}`;
  }

  protected handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests.push(req);
    const b = this.behaviour;
    switch (b.kind) {
      case 'hang':
        // Never answered: `close()` drops the connection.
        return;
      case 'status':
        res.writeHead(b.status, { 'Content-Type': 'application/json', ...b.headers });
        res.end(JSON.stringify({ message: `status ${b.status}` }));
        return;
      case 'redirect':
        res.writeHead(b.status ?? 302, { Location: b.location });
        res.end();
        return;
      case 'custom':
        b.handler(req, res);
        return;
      case 'serve': {
        const etag = `"${createHash('sha256').update(this.body).digest('hex').slice(0, 16)}"`;
        if (this.etags && req.headers['if-none-match'] === etag) {
          res.writeHead(304, { ETag: etag });
          res.end();
          return;
        }
        const headers: Record<string, string> = { 'Content-Type': 'application/json' };
        if (this.etags) headers['ETag'] = etag;
        let bytes = Buffer.from(this.body, 'utf8');
        if (this.gzip) {
          bytes = gzipSync(bytes);
          headers['Content-Encoding'] = 'gzip';
        }
        res.writeHead(200, headers);
        res.end(bytes);
      }
    }
  }
}
