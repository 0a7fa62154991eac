import { FloodgateError } from '@floodgate/client';
import { describe, expect, it } from 'vitest';
import { AdminAuth } from '../../server/src/admin/admin-auth.js';
import { checkAdminIp } from '../../server/src/gateway/admin-ip.js';
import { durationMs } from '../../server/src/gateway/routes.js';
import { IpAllowlist } from '../../server/src/net/ip.js';

const codeOf = (fn: () => unknown): string | undefined => {
  try {
    fn();
    return undefined;
  } catch (err) {
    return (err as FloodgateError).codeName;
  }
};

describe('AdminAuth on HTTP headers', () => {
  const auth = new AdminAuth(['alpha-token', 'beta-token']);

  it('returns the token of a "Bearer <token>" header holding a configured token', () => {
    expect(auth.verifyHeader('Bearer beta-token')).toBe('beta-token');
    expect(auth.verifyHeader('bearer alpha-token')).toBe('alpha-token');
  });

  it('rejects anything else with UNAUTHENTICATED, whatever the length', () => {
    for (const h of [undefined, '', 'Bearer', 'Basic beta-token', 'Bearer beta-token extra', 'Bearer beta', 'Bearer BETA-TOKEN', `Bearer ${'x'.repeat(10_000)}`]) {
      expect(codeOf(() => auth.verifyHeader(h)), String(h)).toBe('UNAUTHENTICATED');
    }
  });
});

describe('checkAdminIp', () => {
  it('allows everyone with an empty allowlist and only listed addresses otherwise', () => {
    expect(codeOf(() => checkAdminIp('203.0.113.1', new IpAllowlist([])))).toBeUndefined();
    const list = new IpAllowlist(['10.0.0.0/8']);
    expect(codeOf(() => checkAdminIp('10.9.9.9', list))).toBeUndefined();
    expect(codeOf(() => checkAdminIp('::ffff:10.9.9.9', list))).toBeUndefined();
    expect(codeOf(() => checkAdminIp('11.0.0.1', list))).toBe('PERMISSION_DENIED');
    expect(codeOf(() => checkAdminIp('garbage', list))).toBe('PERMISSION_DENIED');
  });
});

describe('durationMs', () => {
  it('reads each unit', () => {
    expect(durationMs(undefined)).toBe(0);
    expect(durationMs('500ms')).toBe(500);
    expect(durationMs('90s')).toBe(90_000);
    expect(durationMs('30m')).toBe(1_800_000);
    expect(durationMs('12h')).toBe(43_200_000);
    expect(durationMs('7d')).toBe(604_800_000);
  });

  it('rejects zero and more than ten years (3650 days, as over gRPC), naming duration', () => {
    expect(durationMs('3650d')).toBe(3650 * 86_400_000);
    for (const d of ['0s', '0ms', '3651d', '90000h']) {
      expect(() => durationMs(d)).toThrow(/^duration:/);
    }
  });
});
