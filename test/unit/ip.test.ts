import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IpAllowlist, normalizeIp } from '../../server/src/net/ip.js';

describe('normalizeIp', () => {
  it.each([
    ['1.2.3.4', '1.2.3.4'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::FFFF:7f00:1', '127.0.0.1'],
    ['2001:0DB8:0:0::1', '2001:db8::1'],
    ['::1', '::1'],
  ])('%s → %s', (raw, want) => expect(normalizeIp(raw)).toBe(want));

  it.each(['', 'x', '1.2.3', '01.2.3.4', '256.1.1.1', 'fe80::1%eth0', '1.2.3.4/8', ' 1.2.3.4'])('rejects %j', (raw) =>
    expect(normalizeIp(raw)).toBeUndefined(),
  );

  it('gives every IPv4 address one form, mapped or not', () => {
    fc.assert(
      fc.property(fc.ipV4(), (ip) => {
        expect(normalizeIp(ip)).toBe(ip);
        expect(normalizeIp(`::ffff:${ip}`)).toBe(ip);
      }),
    );
  });

  it('is idempotent on IPv6', () => {
    fc.assert(
      fc.property(fc.ipV6(), (ip) => {
        const n = normalizeIp(ip);
        expect(n).toBeDefined();
        expect(normalizeIp(n!)).toBe(n);
      }),
    );
  });
});

describe('IpAllowlist', () => {
  const list = new IpAllowlist(['10.0.0.0/8', '192.0.2.7', '2001:db8::/32', '::ffff:172.16.0.0/108']);
  it.each([
    ['10.255.0.1', true],
    ['11.0.0.1', false],
    ['192.0.2.7', true],
    ['192.0.2.8', false],
    ['2001:db8:1::1', true],
    ['2001:db9::1', false],
    ['172.16.5.5', true],
    ['172.32.0.1', false],
  ])('%s → %s', (ip, want) => expect(list.has(normalizeIp(ip)!)).toBe(want));

  it.each(['10.0.0.0/33', 'nope', '1.2.3.4/8/9', '2001:db8::/129'])('rejects the entry %j', (entry) =>
    expect(() => new IpAllowlist([entry])).toThrow(entry),
  );
});
