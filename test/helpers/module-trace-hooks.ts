/**
 * ESM loader hooks (registered by module-trace.ts): append every resolved module URL to a file, so
 * a test can see which packages a real agent process loaded.
 */
import { appendFileSync } from 'node:fs';

let file = '';

export function initialize(data: { file: string }): void {
  file = data.file;
}

type Next = (specifier: string, context: unknown) => Promise<{ url: string }>;

export async function resolve(specifier: string, context: unknown, next: Next): Promise<{ url: string }> {
  const r = await next(specifier, context);
  appendFileSync(file, `${r.url}\n`);
  return r;
}
