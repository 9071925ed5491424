/**
 * Writing answers, for both listeners: the headers every answer carries, JSON and error bodies,
 * HEAD like GET without the body.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ApiError } from '../errors.js';

const BASE_HEADERS = [
  'X-Content-Type-Options',
  'nosniff',
  // Every answer, not only secrets: health and errors have no business in a shared cache either.
  'Cache-Control',
  'no-store',
] as const;

export type ContentType = 'application/json' | 'text/plain' | 'prometheus';

const CONTENT_TYPES: Record<ContentType, string> = {
  'application/json': 'application/json; charset=utf-8',
  'text/plain': 'text/plain; charset=utf-8',
  // The Prometheus text exposition format 0.0.4.
  prometheus: 'text/plain; version=0.0.4; charset=utf-8',
};

export function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown): void {
  send(req, res, status, 'application/json', Buffer.from(JSON.stringify(value)));
}

/** The error response of an `ApiError`: its status, JSON body and extra headers. */
export function sendError(req: IncomingMessage, res: ServerResponse, err: ApiError): void {
  const extra: string[] = [];
  for (const [k, v] of Object.entries(err.headers ?? {})) extra.push(k, v);
  send(req, res, err.status, 'application/json', Buffer.from(err.body()), extra);
}

/**
 * HEAD is answered like GET without the body (same Content-Length). Headers go in Node's flat
 * array form: no per-request header objects to build and spread on the hot path.
 */
export function send(req: IncomingMessage, res: ServerResponse, status: number, type: ContentType, bytes: Buffer, extra?: readonly string[]): void {
  const headers = [...BASE_HEADERS, 'Content-Type', CONTENT_TYPES[type], 'Content-Length', String(bytes.length)];
  if (extra) headers.push(...extra);
  res.writeHead(status, headers);
  if (req.method === 'HEAD') res.end();
  else res.end(bytes);
}

/**
 * 304 Not Modified (SPEC §10.2): no body, and the headers a 200 would carry that a cache or client
 * needs (RFC 9110 §15.4.5) — the entity tag and `Cache-Control: no-store`.
 */
export function sendNotModified(res: ServerResponse, etag: string): void {
  res.writeHead(304, [...BASE_HEADERS, 'ETag', etag]);
  res.end();
}

/** Only the error's class, never its message: a message could quote bytes it was handed. */
export function errorSummary(err: unknown): string {
  return err instanceof Error ? err.name : typeof err;
}
