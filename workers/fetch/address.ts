/**
 * The link-local guard (SPEC §5.1): fetches never reach 169.254.0.0/16 or fe80::/10, where cloud
 * metadata services live (AWS IMDS, ECS task metadata, GCP, Azure), nor the AWS IMDS IPv6 address.
 * Applied twice: to literal IPs before connecting, and to every address a hostname resolves to
 * (a DNS name pointing at 169.254.169.254 is the classic SSRF trick).
 *
 * 169.254.0.0/16 is also refused inside the IPv6 forms that carry an IPv4 address to an IPv4 host:
 * IPv4-mapped (::ffff:0:0/96), IPv4-compatible (::/96, deprecated), NAT64 (64:ff9b::/96, RFC 6052,
 * and the local-use 64:ff9b:1::/48 of RFC 8215) and 6to4 (2002::/16). A NAT64 gateway or 6to4 relay
 * would otherwise carry the request to the metadata service.
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const forbidden = new BlockList();
forbidden.addSubnet('169.254.0.0', 16, 'ipv4');
forbidden.addSubnet('fe80::', 10, 'ipv6');
forbidden.addAddress('fd00:ec2::254', 'ipv6');
// 169.254.0.0/16 embedded: NAT64 well-known prefix, IPv4-compatible, 6to4 (2002:V4ADDR::/48).
// BlockList already maps IPv4-mapped addresses onto the IPv4 rule.
forbidden.addSubnet('64:ff9b::a9fe:0', 112, 'ipv6');
forbidden.addSubnet('::a9fe:0', 112, 'ipv6');
forbidden.addSubnet('2002:a9fe::', 32, 'ipv6');

/** RFC 8215 local-use NAT64 prefix: the operator picks a /48, /56, /64 or /96 inside it. */
const NAT64_LOCAL = new BlockList();
NAT64_LOCAL.addSubnet('64:ff9b:1::', 48, 'ipv6');

/**
 * Where an IPv4 address sits in a NAT64 address, by prefix length (RFC 6052 §2.2): byte offsets of
 * its four octets. Bits 64–71 (byte 8) are the reserved `u` octet, which the address skips.
 */
const RFC6052_LAYOUTS: readonly (readonly number[])[] = [
  [6, 7, 9, 10], // /48
  [7, 9, 10, 11], // /56
  [9, 10, 11, 12], // /64
  [12, 13, 14, 15], // /96
];

/** Error code carried by the lookup refusal, so the fetcher can map it to `forbidden_address`. */
export const FORBIDDEN_ADDRESS = 'CLEF_FORBIDDEN_ADDRESS';

/** True for a literal IP in a forbidden range, or carrying one in an IPv6 translation form. */
export function isForbiddenAddress(address: string): boolean {
  // A zone suffix (`fe80::1%eth0`, from a resolver) is no part of the address bytes.
  const ip = address.replace(/%.*$/, '');
  const family = isIP(ip);
  if (family === 0) return false;
  if (family === 4) return forbidden.check(ip, 'ipv4');
  if (forbidden.check(ip, 'ipv6')) return true;
  if (!NAT64_LOCAL.check(ip, 'ipv6')) return false;
  // Which prefix length the local NAT64 uses is not knowable here: refuse if any layout embeds
  // 169.254.0.0/16 (over-blocking inside this one /48 costs nothing real).
  const bytes = ipv6Bytes(ip);
  return RFC6052_LAYOUTS.some(([a, b]) => bytes[a ?? 0] === 169 && bytes[b ?? 0] === 254);
}

/** The 16 bytes of a valid IPv6 literal (checked by isIP), dotted-quad tail included. */
function ipv6Bytes(ip: string): number[] {
  let text = ip.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad !== null) {
    const [o1, o2, o3, o4] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((o1 << 8) | o2).toString(16)}:${((o3 << 8) | o4).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.flatMap((g) => {
    const n = parseInt(g, 16);
    return [n >> 8, n & 0xff];
  });
}

export type Resolver = (hostname: string, options: LookupAllOptions, cb: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

const systemResolver: Resolver = (hostname, options, cb) => dnsLookup(hostname, options, cb);

/**
 * A `net.connect` lookup that resolves every address and refuses the connection when any is
 * link-local (refusing on *any*, not just the first, so round-robin answers cannot sneak one in).
 * `resolve` is injectable for tests.
 */
export function guardedLookup(resolve: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const bad = addresses.find((a) => isForbiddenAddress(a.address));
      if (bad !== undefined) {
        const e: NodeJS.ErrnoException = new Error(`${hostname} resolves to the link-local address ${bad.address}`);
        e.code = FORBIDDEN_ADDRESS;
        return callback(e, '', 0);
      }
      const first = addresses[0];
      if (first === undefined) {
        const e: NodeJS.ErrnoException = new Error(`${hostname} has no addresses`);
        e.code = 'ENOTFOUND';
        return callback(e, '', 0);
      }
      // `all: true` callers (undici passes it) want the list; classic callers want one address.
      if (options.all === true) {
        (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      } else {
        callback(null, first.address, first.family);
      }
    });
  };
}
