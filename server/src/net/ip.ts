import { BlockList, isIP } from 'node:net';

/**
 * Canonical text of an IP address, or undefined when it is not one. IPv6 is compressed per
 * RFC 5952 so one address has one key; IPv4-mapped IPv6 (::ffff:1.2.3.4) becomes plain IPv4.
 */
export function normalizeIp(raw: string): string | undefined {
  const kind = isIP(raw);
  if (kind === 4) return raw.split('.').map(Number).join('.');
  if (kind !== 6 || raw.includes('%')) return undefined;
  let host: string;
  try {
    host = new URL(`http://[${raw}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (!mapped) return host;
  const hi = parseInt(mapped[1]!, 16);
  const lo = parseInt(mapped[2]!, 16);
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** A set of CIDR ranges (IPv4 and IPv6) that addresses are matched against after normalising. */
export class IpAllowlist {
  private readonly list = new BlockList();
  readonly size: number;

  /** Throws with the offending entry when one is not an address or CIDR. */
  constructor(entries: readonly string[]) {
    for (const entry of entries) {
      const [addr = '', bits, extra] = entry.split('/');
      const ip = normalizeIp(addr);
      if (!ip || extra !== undefined) throw new Error(`"${entry}" is not an IP address or CIDR range`);
      const family = isIP(ip) === 4 ? 'ipv4' : 'ipv6';
      const max = family === 'ipv4' ? 32 : 128;
      // A mapped IPv6 range (::ffff:10.0.0.0/104) is an IPv4 range once normalised.
      const prefix = bits === undefined ? max : Number(bits) - (family === 'ipv4' && isIP(addr) === 6 ? 96 : 0);
      if (!/^\d+$/.test(bits ?? '0') || !Number.isInteger(prefix) || prefix < 0 || prefix > max) {
        throw new Error(`"${entry}" has an invalid prefix length`);
      }
      this.list.addSubnet(ip, prefix, family);
    }
    this.size = entries.length;
  }

  /** `ip` must already be normalised. */
  has(ip: string): boolean {
    return this.size > 0 && this.list.check(ip, isIP(ip) === 4 ? 'ipv4' : 'ipv6');
  }
}
