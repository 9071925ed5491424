/**
 * ISO-8601 date-times as the artifact format uses them (SPEC §2: `packedAt`, `expiresAt`): one
 * parser for the workers, which validate artifacts, and `clef-agent pack`, which writes them, so
 * pack never accepts a time the agent would refuse.
 */

const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * Epoch ms of an ISO-8601 date-time, or null. A time zone is required (a zoneless time would be
 * read in the host's local zone), and calendar-impossible dates that `Date.parse` would roll over
 * (Feb 30) are refused.
 */
export function parseIsoDate(s: string): number | null {
  const m = ISO_DATE_TIME.exec(s);
  if (m === null) return null;
  const [y, mo, d, h, mi, sec] = [m[1], m[2], m[3], m[4], m[5], m[6] ?? '0'].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 59) return null;
  const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
  if (d > daysInMonth) return null;
  // Date.parse needs seconds and at most millisecond precision; normalise before handing it over.
  const ms = Date.parse(
    s
      .toUpperCase()
      .replace(/(\.\d{3})\d+/, '$1')
      .replace(/^(.{16})(?=[Z+-])/, '$1:00'),
  );
  return Number.isFinite(ms) ? ms : null;
}
