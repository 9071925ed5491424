/**
 * Host classification shared by the config (main thread), the fetch path and the proxy rules
 * (workers, `clef-agent pack`): one definition of "loopback", so the plain-http rule and the
 * never-proxied rule cannot disagree.
 */
import { BlockList, isIP } from 'node:net';

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

/** A URL hostname as an IP literal (IPv6 brackets removed), or null for a DNS name. */
export function literalIp(hostname: string): string | null {
  const h = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  return isIP(h) !== 0 ? h : null;
}

/**
 * Loopback hosts: `localhost`, 127.0.0.0/8 and `::1`, IPv4-mapped 127.0.0.0/8 included (BlockList
 * maps `::ffff:7f00:1` to 127.0.0.1). Takes a WHATWG URL hostname, which has already normalized
 * shorthand IPv4 forms such as `127.1` or `0x7f.0.0.1` to dotted decimal; a trailing dot is ignored.
 */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.toLowerCase().replace(/\.$/, '');
  if (h === 'localhost') return true;
  const ip = literalIp(h);
  if (ip === null) return false;
  return LOOPBACK.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6');
}

/**
 * Plain http to a host other than loopback: the one channel the plain-http rule (SPEC §3) is about,
 * for sources, AWS endpoints, telemetry endpoints and every fetch alike.
 */
export function isPlainRemoteHttp(url: URL): boolean {
  return url.protocol === 'http:' && !isLoopbackHost(url.hostname);
}
