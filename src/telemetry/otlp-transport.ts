/**
 * The HTTP leg of OTLP export (SPEC §7). The OpenTelemetry SDK serializes (otlp-transformer) and
 * runs the export pipeline (otlp-exporter-base: bounded in-flight exports, the export timeout);
 * this transport only POSTs the bytes. It exists because of the retry rule: the SDK's own
 * transport also retries refused connections and time-outs, and the spec allows retries only for
 * 429/502/503/504. Those are retried here, honouring `Retry-After`, with jittered backoff
 * otherwise, and never past the export's deadline; anything else fails the export at once, and
 * the batcher above sends its data again with the next batch or drops it when full. One case is
 * not the collector's answer at all: a kept-alive connection the collector (or a load balancer)
 * closed while it sat idle — or while a Lambda sandbox was frozen — fails the moment it is reused,
 * before the request reached anyone. That request goes once more, at once, on a new connection.
 *
 * Nothing a collector sends back is kept or shown: an error names the status or the socket error
 * code only (a collector's answer may echo the auth headers).
 */
import type { Agent as HttpAgent, IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { http } from '../http/node-http.js';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import type { ExportResponse, IExporterTransport } from '@opentelemetry/otlp-exporter-base';
import { retryAfterMs } from '../../common/retry-after.js';
import type { Compression } from './exporter-config.js';

/** The statuses OTLP/HTTP calls retryable; SPEC §7 retries these and nothing else. */
export const RETRYABLE_STATUSES: ReadonlySet<number> = new Set([429, 502, 503, 504]);
const MAX_ATTEMPTS = 5;
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;
/** How a reused connection the peer already closed fails on write or first read. */
const STALE_SOCKET_CODES: ReadonlySet<string | undefined> = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);
/** A success body is an ExportServiceResponse (partial-success counts): small. More is not read. */
const MAX_RESPONSE_BYTES = 64 * 1024;

export interface TransportOptions {
  readonly url: string;
  readonly contentType: 'application/json' | 'application/x-protobuf';
  /** Read per export: credentials from the first load may arrive after the transport is built. */
  readonly headers: () => Readonly<Record<string, string>>;
  readonly compression: Compression;
}

type Attempt =
  | { readonly kind: 'ok'; readonly body: Buffer }
  /** A reused keep-alive connection turned out closed before any answer: send again on a new one. */
  | { readonly kind: 'stale' }
  | { readonly kind: 'status'; readonly status: number; readonly retryAfterMs: number | undefined }
  | { readonly kind: 'error'; readonly what: string };

const gzipAsync = promisify(gzip);

export function otlpHttpTransport(options: TransportOptions): IExporterTransport {
  const url = new URL(options.url);
  const https = url.protocol === 'https:';
  // One kept-alive connection is plenty: exports run one at a time.
  const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 1 }) : new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
      const deadline = Date.now() + timeoutMillis;
      const body = options.compression === 'gzip' ? await gzipAsync(data) : data;
      let backoff = FIRST_BACKOFF_MS;
      let staleRetried = false;
      for (let attempt = 1; ; attempt++) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) return failure('no answer within the export timeout');
        const r = await post(url, https, agent, options, body, remaining);
        if (r.kind === 'ok') return { status: 'success', data: r.body };
        if (r.kind === 'stale') {
          if (staleRetried) return failure('connection failed (ECONNRESET)');
          staleRetried = true;
          attempt--; // not an answer of the collector's: it does not count as an attempt
          continue;
        }
        if (r.kind === 'error') return failure(r.what);
        if (!RETRYABLE_STATUSES.has(r.status) || attempt >= MAX_ATTEMPTS) return failure(`the collector answered ${r.status}`);
        // Jitter keeps a fleet of sidecars from retrying in step.
        const wait = r.retryAfterMs ?? backoff * (0.5 + Math.random() / 2);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        if (wait >= deadline - Date.now()) return failure(`the collector answered ${r.status}; its retry delay outlasts the export timeout`);
        await new Promise<void>((resolve) => setTimeout(resolve, wait).unref());
      }
    },
    shutdown(): void {
      agent.destroy();
    },
  };
}

function failure(what: string): ExportResponse {
  return { status: 'failure', error: new Error(`OTLP export failed: ${what}`) };
}

function post(url: URL, https: boolean, agent: HttpAgent, o: TransportOptions, body: Uint8Array, timeoutMs: number): Promise<Attempt> {
  return new Promise<Attempt>((resolve) => {
    const headers: Record<string, string | number> = { ...o.headers(), 'content-type': o.contentType, 'content-length': body.byteLength };
    if (o.compression === 'gzip') headers['content-encoding'] = 'gzip';
    let answered = false;
    const req = (https ? httpsRequest : http.request)(url, { method: 'POST', agent, headers }, (res) => {
      answered = true;
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        size += c.length;
        if (size <= MAX_RESPONSE_BYTES) chunks.push(c);
      });
      res.on('error', () => resolve({ kind: 'error', what: 'the answer broke off' }));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve({ kind: 'ok', body: Buffer.concat(chunks) });
        else resolve({ kind: 'status', status, retryAfterMs: retryAfter(res) });
      });
    });
    req.setTimeout(timeoutMs, () => {
      req.destroy();
      resolve({ kind: 'error', what: 'no answer within the export timeout' });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (req.reusedSocket && !answered && STALE_SOCKET_CODES.has(err.code)) resolve({ kind: 'stale' });
      else resolve({ kind: 'error', what: `connection failed (${err.code ?? 'error'})` });
    });
    req.end(body);
  });
}

/** The answer's `Retry-After` in ms (common/retry-after.ts). */
export function retryAfter(res: Pick<IncomingMessage, 'headers'>, now: number = Date.now()): number | undefined {
  return retryAfterMs(res.headers['retry-after'], now);
}
