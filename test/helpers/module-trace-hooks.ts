/**
 * Module-loader hooks (node:module `register`) that append every resolved module URL to a file, so
 * a probe can tell which modules a real agent start loaded. Runs on the loader's own thread: the
 * append is synchronous, so a URL is on disk before the import that resolved it settles.
 */
import { appendFileSync } from 'node:fs';

let file = '';

export function initialize(data: { file: string }): void {
  file = data.file;
}

interface ResolveResult {
  readonly url: string;
}

export async function resolve(specifier: string, context: unknown, next: (s: string, c: unknown) => Promise<ResolveResult>): Promise<ResolveResult> {
  const r = await next(specifier, context);
  appendFileSync(file, `${r.url}\n`);
  return r;
}
