/**
 * `CLEF_AGENT_OPS_ADDR` (SPEC §8): where the operations listener binds, as `host:port`. The host
 * must be an IP literal (or `localhost`): a DNS name would make the bound address depend on the
 * resolver at start-up, and a listener that may face the pod network should bind what was written.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { quote } from '../../common/display.js';
import { refuse } from './errors.js';
import { integer } from './parse.js';

export interface OpsAddr {
  /** An IP literal without brackets (`0.0.0.0`, `127.0.0.1`, `::`); `localhost` is kept as 127.0.0.1. */
  readonly host: string;
  /** 0 asks the OS for a free port (tests read it back from the `ops.listening` log line). */
  readonly port: number;
}

const EXPECTED = 'host:port with an IPv4 address, a bracketed IPv6 address or localhost, and a port from 0 to 65535 (e.g. 0.0.0.0:7780)';

export function parseOpsAddr(name: string, raw: string): OpsAddr {
  if (raw === '') refuse(name, 'is empty', EXPECTED);
  const colon = raw.lastIndexOf(':');
  if (colon < 0 || colon === raw.length - 1) refuse(name, `${quote(raw)} has no port`, EXPECTED);
  const hostPart = raw.slice(0, colon);
  const portPart = raw.slice(colon + 1);
  let host: string;
  if (hostPart.startsWith('[') && hostPart.endsWith(']') && isIPv6(hostPart.slice(1, -1))) host = hostPart.slice(1, -1);
  else if (isIPv4(hostPart)) host = hostPart;
  else if (hostPart.toLowerCase() === 'localhost') host = '127.0.0.1';
  else return refuse(name, `${quote(raw)} does not start with an IP address or localhost`, EXPECTED);
  return { host, port: integer(name, portPart, 0, 65_535, EXPECTED) };
}
