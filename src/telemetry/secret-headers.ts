/**
 * Export auth from the decrypted secrets (SPEC §7): `CLEF_TELEMETRY_HEADERS` (comma-separated
 * name=value) and `CLEF_TELEMETRY_TOKEN` (sent as `Authorization: Bearer …`, winning over an
 * authorization header from the list). These are secrets: a warning names the key, never a value.
 */
import type { TelemetryCredentials } from '../../common/protocol.js';
import { isHeaderSafe } from '../config/parse.js';
import type { Logger } from '../log.js';
import { parseHeaderList } from './exporter-config.js';

export function authHeaders(c: TelemetryCredentials | undefined, log: Logger): Record<string, string> {
  const out: Record<string, string> = {};
  if (c?.headers !== undefined) {
    const h = parseHeaderList(undefined, 'CLEF_TELEMETRY_HEADERS', c.headers);
    if (h === undefined) {
      log.warn(
        { event: 'telemetry.credentials_invalid', key: 'CLEF_TELEMETRY_HEADERS' },
        'the secret CLEF_TELEMETRY_HEADERS is not comma-separated name=value pairs (HTTP token names, no control characters); its headers are not sent',
      );
    } else Object.assign(out, h);
  }
  if (c?.token !== undefined) {
    if (isHeaderSafe(c.token)) out['authorization'] = `Bearer ${c.token}`;
    else {
      log.warn(
        { event: 'telemetry.credentials_invalid', key: 'CLEF_TELEMETRY_TOKEN' },
        'the secret CLEF_TELEMETRY_TOKEN is not a single run of visible ASCII characters; it is not sent',
      );
    }
  }
  return out;
}
