/**
 * `Retry-After` (RFC 9110 §10.2.3): delay-seconds or an HTTP date, as milliseconds from `nowMs`;
 * undefined when absent or unreadable. Read by the workers' fetch policy (source rate limits) and
 * by the main thread's OTLP transport.
 */
export function retryAfterMs(raw: string | undefined, nowMs: number = Date.now()): number | undefined {
  const v = raw?.trim();
  if (v === undefined) return undefined;
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}
