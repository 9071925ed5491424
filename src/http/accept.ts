/**
 * Is `text/plain` the client's most preferred type (SPEC §5, `/v1/secrets/:key`)? Highest `q`
 * wins; among equals the first listed wins. Wildcards count as a preference for our default
 * (JSON), so `*\/*` alone keeps JSON.
 */
export function prefersTextPlain(accept: string | undefined): boolean {
  if (accept === undefined || accept.length === 0) return false;
  let best: { type: string; q: number } | undefined;
  for (const part of accept.split(',')) {
    const [rawType, ...params] = part.split(';');
    const type = (rawType ?? '').trim().toLowerCase();
    if (type.length === 0) continue;
    let q = 1;
    for (const p of params) {
      const [k, v] = p.split('=');
      if ((k ?? '').trim().toLowerCase() === 'q') {
        const n = Number((v ?? '').trim());
        q = Number.isFinite(n) && n >= 0 && n <= 1 ? n : 0;
      }
    }
    if (q > 0 && (best === undefined || q > best.q)) best = { type, q };
  }
  return best?.type === 'text/plain';
}
