export interface HostPort {
  host: string;
  port: number;
}

/**
 * Parses one `host:port` (IPv6 as `[addr]:port`), the port 1-65535; throws naming the problem.
 * The one check of a Floodgate or Redis address, shared by the server, its gateway and apps
 * that read an address from their environment.
 */
export function parseHostPort(raw: string): HostPort {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]+)):(\d{1,5})$/.exec(raw);
  if (!m) throw new Error(`expected host:port, got "${raw}"`);
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`port must be between 1 and 65535, got "${raw}"`);
  return { host: (m[1] ?? m[2])!, port };
}
