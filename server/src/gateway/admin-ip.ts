import { FloodgateError } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import { normalizeIp, type IpAllowlist } from '../net/ip.js';

/** Throws PERMISSION_DENIED when an allowlist is set and the client address is not on it. */
export function checkAdminIp(clientIp: string, allowlist: IpAllowlist): void {
  if (allowlist.size === 0) return;
  const ip = normalizeIp(clientIp);
  if (ip === undefined || !allowlist.has(ip)) {
    throw new FloodgateError(status.PERMISSION_DENIED, `client address ${clientIp} is not on ADMIN_IP_ALLOWLIST`);
  }
}
