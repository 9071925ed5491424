/**
 * The link-local guard's address rule (SPEC §5.1): 169.254.0.0/16 and fe80::/10 are refused as
 * such and inside every IPv6 form that delivers to an embedded IPv4 address.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { guardedLookup, isForbiddenAddress, FORBIDDEN_ADDRESS, type Resolver } from '../../workers/fetch/address.js';

describe('link-local guard: isForbiddenAddress', () => {
  const refused: ReadonlyArray<readonly [string, string]> = [
    ['169.254.169.254', 'IPv4 link-local (IMDS)'],
    ['169.254.170.2', 'ECS task metadata'],
    ['fe80::1', 'IPv6 link-local'],
    ['fe80::1%eth0', 'IPv6 link-local with a zone'],
    ['fd00:ec2::254', 'AWS IMDS over IPv6'],
    ['::ffff:169.254.169.254', 'IPv4-mapped'],
    ['::ffff:a9fe:a9fe', 'IPv4-mapped, hex'],
    ['64:ff9b::a9fe:a9fe', 'NAT64 well-known prefix'],
    ['64:ff9b::169.254.169.254', 'NAT64 well-known prefix, dotted tail'],
    ['64:ff9b::a9fe:1', 'NAT64 well-known prefix, other link-local host'],
    ['2002:a9fe:a9fe::', '6to4'],
    ['2002:a9fe:a9fe:1::5', '6to4 with subnet and host'],
    ['::a9fe:a9fe', 'IPv4-compatible (deprecated)'],
    ['::169.254.169.254', 'IPv4-compatible, dotted tail'],
    ['64:ff9b:1::a9fe:a9fe', 'RFC 8215 local-use NAT64, /96 layout'],
    ['64:ff9b:1:a9fe:a9:fe00::', 'RFC 8215 local-use NAT64, /48 layout'],
    ['64:ff9b:1:ab:a9:fea9:fe00:0', 'RFC 8215 local-use NAT64, /56 layout'],
    ['64:ff9b:1:abcd:a9:fea9:fe00:0', 'RFC 8215 local-use NAT64, /64 layout'],
  ];
  for (const [address, what] of refused) {
    test(`refuses ${address} (${what})`, () => assert.equal(isForbiddenAddress(address), true));
  }

  const allowed: ReadonlyArray<readonly [string, string]> = [
    ['127.0.0.1', 'loopback'],
    ['10.0.0.1', 'private IPv4'],
    ['169.255.0.1', 'next to link-local'],
    ['::1', 'IPv6 loopback'],
    ['64:ff9b::a00:1', 'NAT64 of 10.0.0.1'],
    ['64:ff9b::a9ff:1', 'NAT64 of 169.255.0.1'],
    ['2002:a00:1::', '6to4 of 10.0.0.1'],
    ['2002:a9ff::1', '6to4 of 169.255.0.1'],
    ['64:ff9b:1::a00:1', 'local-use NAT64 of 10.0.0.1'],
    ['2001:db8::a9fe:a9fe', 'an ordinary IPv6 address whose low bits look like 169.254.169.254'],
    ['not-an-ip', 'a hostname'],
  ];
  for (const [address, what] of allowed) {
    test(`allows ${address} (${what})`, () => assert.equal(isForbiddenAddress(address), false));
  }

  test('a hostname resolving to a NAT64 or 6to4 embedding of link-local is refused at lookup', async () => {
    for (const bad of ['64:ff9b::a9fe:a9fe', '2002:a9fe:a9fe::']) {
      const resolve: Resolver = (_h, _o, cb) =>
        cb(null, [
          { address: '2001:db8::1', family: 6 },
          { address: bad, family: 6 },
        ]);
      const err = await new Promise<NodeJS.ErrnoException | null>((done) => guardedLookup(resolve)('metadata.test', { all: true }, (e) => done(e)));
      assert.equal(err?.code, FORBIDDEN_ADDRESS, bad);
      assert.match(err?.message ?? '', new RegExp(bad.replace(/[.:]/g, '\\$&')));
    }
  });
});
