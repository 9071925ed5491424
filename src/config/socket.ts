/**
 * The Unix socket listener's settings (SPEC §10.4): `CLEF_AGENT_SOCKET` (where), its mode
 * (`CLEF_AGENT_SOCKET_MODE`), and `CLEF_AGENT_PORT=off` (no TCP listener). Syntax only: what is at
 * the path, and the directory it is in, are judged when the socket is bound (src/http/unix-socket.ts),
 * because that is the moment they matter and a check made earlier could be stale by then.
 */
import { quote } from '../../common/display.js';
import { refuse } from './errors.js';
import { integer, pathValue } from './parse.js';

/** `CLEF_AGENT_PORT=off`: the secrets API listens on the socket only. */
export const PORT_OFF = 'off';

export function parsePort(name: string, raw: string): number | typeof PORT_OFF {
  if (raw === PORT_OFF) return PORT_OFF;
  if (raw.trim().toLowerCase() === PORT_OFF) refuse(name, `${quote(raw)} is not the word off`, 'off, in lowercase without spaces (with CLEF_AGENT_SOCKET)');
  return integer(name, raw, 0, 65_535);
}

/**
 * Linux's `sun_path` holds 108 bytes with the terminating NUL. The socket is bound under a
 * temporary name in a private directory next to it (`<dir>/.clef-XXXXXX/s`), which must fit too.
 */
export const MAX_SOCKET_PATH_BYTES = 107;
/** `/.clef-XXXXXX/s` minus `/<name>`: how much longer the temporary name's path can be. */
const BIND_NAME_BYTES = '/.clef-XXXXXX/s'.length;

const SOCKET_EXPECTED = `an absolute or relative path of at most ${MAX_SOCKET_PATH_BYTES} bytes whose directory path is at most ${MAX_SOCKET_PATH_BYTES - BIND_NAME_BYTES} bytes`;

export function parseSocketPath(name: string, raw: string, cwd: string): string {
  const path = pathValue(name, raw, cwd, SOCKET_EXPECTED);
  if (raw.endsWith('/')) refuse(name, `${quote(raw, 200)} names a directory`, SOCKET_EXPECTED);
  const bytes = Buffer.byteLength(path);
  if (bytes > MAX_SOCKET_PATH_BYTES) refuse(name, `${quote(path, 200)} is ${bytes} bytes long`, SOCKET_EXPECTED);
  const dirBytes = Buffer.byteLength(path.slice(0, path.lastIndexOf('/')));
  if (dirBytes + BIND_NAME_BYTES > MAX_SOCKET_PATH_BYTES)
    refuse(name, `${quote(path, 200)} is in a directory whose path is ${dirBytes} bytes long`, SOCKET_EXPECTED);
  return path;
}

export const DEFAULT_SOCKET_MODE = 0o660;
const MODE_EXPECTED = 'an octal mode such as 0660 or 0600: read and write for the owner, read-and-write or nothing for group and others (no execute bits)';

/**
 * Octal, 3 digits with an optional leading 0. The owner (the agent's user) must be able to connect
 * (`check`, and the next start proving a leftover socket dead); to connect to a socket is to write
 * to it, so read without write (4) or execute bits mean nothing and are refused as mistakes.
 */
export function parseSocketMode(name: string, raw: string): number {
  if (raw === '') refuse(name, 'is empty', MODE_EXPECTED);
  if (!/^0?[0-7]{3}$/.test(raw)) refuse(name, `${quote(raw)} is not an octal mode`, MODE_EXPECTED);
  const mode = parseInt(raw, 8);
  const owner = mode >> 6;
  if ((owner & 6) !== 6) refuse(name, `${quote(raw)} does not let the owner read and write`, MODE_EXPECTED);
  if (owner !== 6) refuse(name, `${quote(raw)} gives the owner ${owner.toString(8)}, not 6`, MODE_EXPECTED);
  for (const shift of [3, 0]) {
    const bits = (mode >> shift) & 0o7;
    if (bits !== 0 && bits !== 6) refuse(name, `${quote(raw)} gives ${shift === 3 ? 'group' : 'others'} ${bits.toString(8)}, not 6 or 0`, MODE_EXPECTED);
  }
  return mode;
}
