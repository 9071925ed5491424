/**
 * The link-local guard (SPEC §5.1): fetches never reach 169.254.0.0/16 or fe80::/10, where cloud
 * metadata services live (AWS IMDS, ECS task metadata, GCP, Azure), nor the AWS IMDS IPv6 address.
 * Applied twice: to literal IPs before connecting, and to every address a hostname resolves to
 * (a DNS name pointing at 169.254.169.254 is the classic SSRF trick).
 */
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';

const forbidden = new BlockList();
forbidden.addSubnet('169.254.0.0', 16, 'ipv4');
forbidden.addSubnet('fe80::', 10, 'ipv6');
forbidden.addAddress('fd00:ec2::254', 'ipv6');

/** Error code carried by the lookup refusal, so the fetcher can map it to `forbidden_address`. */
export const FORBIDDEN_ADDRESS = 'CLEF_FORBIDDEN_ADDRESS';

/** True for a literal IP in a forbidden range (IPv4-mapped IPv6 included: BlockList maps it). */
export function isForbiddenAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  return forbidden.check(address, family === 4 ? 'ipv4' : 'ipv6');
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
