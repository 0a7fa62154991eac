import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parseHostPort } from '@floodgate/client';
import { IpAllowlist } from '../net/ip.js';
import { parseHostPorts, type HostPort, type RedisTarget } from '../store/redis-connection.js';

/**
 * Configuration from environment variables, validated once at start. A bad value throws a
 * ConfigError naming the variable; main() prints it and exits non-zero.
 */
export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    problem: string,
  ) {
    super(`${variable}: ${problem}`);
    this.name = 'ConfigError';
  }
}

/** The admin HTTP gateway's settings, shared by the in-process and the standalone gateway. */
export interface GatewayConfig {
  httpHost: string;
  httpPort: number;
  /**
   * Admin bearer tokens from ADMIN_TOKENS and ADMIN_TOKENS_FILE, for the gRPC admin API and the
   * gateway's /api/admin/* and /api/rate-limits/*; none: those are disabled.
   */
  adminTokens: string[];
  /** IPs / CIDRs allowed on /api/admin/*; empty allows every address. */
  adminIpAllowlist: string[];
  /** Proxies in front of the gateway whose X-Forwarded-For entries are trusted. */
  trustedProxyHops: number;
  logLevel: string;
}

export interface Config extends GatewayConfig {
  /** Whether main.ts starts the gateway in the same process. */
  httpEnabled: boolean;
  grpcHost: string;
  grpcPort: number;
  redisUrl: string | undefined;
  /** Single (REDIS_URL), Sentinel or Cluster; undefined means the in-process memory store. */
  redisTarget: RedisTarget | undefined;
  redisPassword: string | undefined;
  redisSentinelPassword: string | undefined;
  redisTls: boolean;
  keyPrefix: string;
  redisCommandTimeoutMs: number;
  /** Consecutive failed Redis calls (connection still up) before Redis is declared unreachable. */
  redisFailureThreshold: number;
  redisConnectTimeoutMs: number;
  /** Tracking writes held while Redis is unreachable; 0: none (writes fail with UNAVAILABLE). */
  trackingBufferSize: number;
  /** Longest an over-limit answer is repeated without asking Redis; 0: never (see limiter/deny-cache.ts). */
  denyCacheMs: number;
  denyCacheMaxKeys: number;
  /** How often the failover layer pings Redis (and held tracking writes are retried) while it is unreachable. */
  redisProbeIntervalMs: number;
  /** After SIGTERM: answer calls (health NOT_SERVING) this long before refusing new ones. */
  shutdownDrainMs: number;
  /** After SIGTERM: exit within this long, in-flight calls or not. */
  shutdownGraceMs: number;
  ipAllowlist: string[];
  policiesFile: string | undefined;
  policiesPollIntervalMs: number;
  maxBatchSize: number;
  /** Checks taken and not yet answered, over all calls and streams, past which new ones are refused UNAVAILABLE. */
  maxChecksInFlight: number;
  trackingCleanupIntervalMs: number;
  /** Node's per-session stream Map and Set replaced (see grpc/stream-table.ts); false keeps Node's. */
  http2StreamTables: boolean;
  /** grpc-js's shared response options given `endStream` (see grpc/response-options.ts); false leaves them. */
  http2CompleteResponseOptions: boolean;
}

type Env = Record<string, string | undefined>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function str(env: Env, name: string): string | undefined {
  const v = env[name]?.trim();
  return v === '' ? undefined : v;
}

function int(env: Env, name: string, def: number, min: number, max: number): number {
  const raw = str(env, name);
  if (raw === undefined) return def;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `expected a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

function bool(env: Env, name: string, def = false): boolean {
  const raw = str(env, name)?.toLowerCase();
  if (raw === undefined) return def;
  if (raw === 'false' || raw === '0') return false;
  if (raw === 'true' || raw === '1') return true;
  throw new ConfigError(name, `expected true or false, got "${raw}"`);
}

/** `raw` through `parse`, whose error becomes the variable's. */
function parsed<T>(name: string, raw: string, parse: (raw: string) => T): T {
  try {
    return parse(raw);
  } catch (err) {
    throw new ConfigError(name, (err as Error).message);
  }
}

function hostPorts(env: Env, name: string): HostPort[] | undefined {
  const raw = str(env, name);
  return raw === undefined ? undefined : parsed(name, raw, parseHostPorts);
}

/** At most one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES; Sentinel needs its master name. */
function redisTarget(env: Env, url: string | undefined, db: number | undefined): RedisTarget | undefined {
  const sentinels = hostPorts(env, 'REDIS_SENTINELS');
  const nodes = hostPorts(env, 'REDIS_CLUSTER_NODES');
  const given = [url && 'REDIS_URL', sentinels && 'REDIS_SENTINELS', nodes && 'REDIS_CLUSTER_NODES'].filter(Boolean);
  if (given.length > 1) throw new ConfigError(given[1] as string, `set only one of ${given.join(', ')}`);
  const name = str(env, 'REDIS_SENTINEL_NAME');
  if (sentinels) {
    if (name === undefined) throw new ConfigError('REDIS_SENTINEL_NAME', 'is required with REDIS_SENTINELS');
    return { kind: 'sentinel', sentinels, name };
  }
  if (name !== undefined) throw new ConfigError('REDIS_SENTINEL_NAME', 'is only used with REDIS_SENTINELS');
  if (nodes) return { kind: 'cluster', nodes };
  if (url === undefined) return undefined;
  return db === undefined ? { kind: 'single', url } : { kind: 'single', url, db };
}

/**
 * The database of a redis:// or rediss:// URL (its path, or a `db` query parameter, as ioredis
 * reads it), undefined for none. ioredis itself reads a path that is not a number as database 0,
 * so a typo would silently share db 0; a database the server lacks is checked at connect.
 * Messages never repeat the URL: it can hold a password.
 */
function redisDbOf(raw: string): number | undefined {
  if (!/^rediss?:\/\//i.test(raw)) throw new ConfigError('REDIS_URL', 'must start with redis:// or rediss://');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL', 'is not a valid URL (expected redis[s]://[[user]:password@]host[:port][/db])');
  }
  const path = url.pathname === '/' ? '' : url.pathname.slice(1);
  const query = url.searchParams.get('db');
  const db = path !== '' ? path : query;
  if (db === null || db === '') return undefined;
  if (!/^\d+$/.test(db)) {
    throw new ConfigError('REDIS_URL', `the database (${path !== '' ? 'the path' : 'db='}) must be a whole number 0 or above, got "${db}"`);
  }
  return Number(db);
}

/** A bind address: a host name or an IP; something shaped like an IP that is not one (999.0.0.1) is refused here rather than at bind. */
function bindHost(env: Env, name: string): string {
  const host = str(env, name) ?? '0.0.0.0';
  if (isIP(host) === 0 && (/^[\d.]+$/.test(host) || host.includes(':') || /[^\w.-]/.test(host))) {
    throw new ConfigError(name, `expected an IP address or a host name, got "${host}"`);
  }
  return host;
}

function list(env: Env, name: string): string[] {
  return (str(env, name) ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function logLevelOf(env: Env): string {
  const logLevel = str(env, 'LOG_LEVEL') ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }
  return logLevel;
}

export function loadGatewayConfig(env: Env = process.env): GatewayConfig {
  return {
    httpHost: bindHost(env, 'HTTP_HOST'),
    httpPort: int(env, 'HTTP_PORT', 8080, 0, 65535),
    adminTokens: adminTokens(env),
    adminIpAllowlist: list(env, 'ADMIN_IP_ALLOWLIST'),
    trustedProxyHops: int(env, 'TRUSTED_PROXY_HOPS', 0, 0, 10),
    logLevel: logLevelOf(env),
  };
}

/** The standalone gateway: its settings and the Floodgate gRPC address it talks to. */
export function loadStandaloneGatewayConfig(env: Env = process.env): GatewayConfig & { grpcAddress: string } {
  const grpcAddress = str(env, 'FLOODGATE_GRPC_ADDRESS') ?? '127.0.0.1:50051';
  parsed('FLOODGATE_GRPC_ADDRESS', grpcAddress, parseHostPort);
  return { ...loadGatewayConfig(env), grpcAddress };
}

export function loadConfig(env: Env = process.env): Config {
  const redisUrl = str(env, 'REDIS_URL');
  const redisDb = redisUrl === undefined ? undefined : redisDbOf(redisUrl);
  const keyPrefix = str(env, 'REDIS_KEY_PREFIX') ?? 'fg:';
  if (/[{}\s]/.test(keyPrefix)) {
    throw new ConfigError('REDIS_KEY_PREFIX', 'must not contain braces or white space');
  }
  const shutdownDrainMs = int(env, 'SHUTDOWN_DRAIN_MS', 5_000, 0, 600_000);
  const shutdownGraceMs = int(env, 'SHUTDOWN_GRACE_MS', 30_000, 1, 3_600_000);
  if (shutdownGraceMs <= shutdownDrainMs) {
    throw new ConfigError('SHUTDOWN_GRACE_MS', `must be above SHUTDOWN_DRAIN_MS (${shutdownDrainMs}), got ${shutdownGraceMs}`);
  }
  return {
    ...loadGatewayConfig(env),
    httpEnabled: bool(env, 'HTTP_ENABLED', true),
    grpcHost: bindHost(env, 'GRPC_HOST'),
    grpcPort: int(env, 'GRPC_PORT', 50051, 0, 65535),
    redisUrl,
    redisTarget: redisTarget(env, redisUrl, redisDb),
    redisPassword: str(env, 'REDIS_PASSWORD'),
    redisSentinelPassword: str(env, 'REDIS_SENTINEL_PASSWORD'),
    redisTls: bool(env, 'REDIS_TLS'),
    keyPrefix,
    redisCommandTimeoutMs: int(env, 'REDIS_COMMAND_TIMEOUT_MS', 500, 1, 60_000),
    redisFailureThreshold: int(env, 'REDIS_FAILURE_THRESHOLD', 3, 1, 1_000),
    redisConnectTimeoutMs: int(env, 'REDIS_CONNECT_TIMEOUT_MS', 5_000, 1, 300_000),
    redisProbeIntervalMs: int(env, 'REDIS_PROBE_INTERVAL_MS', 1_000, 10, 60_000),
    trackingBufferSize: int(env, 'TRACKING_BUFFER_SIZE', 10_000, 0, 10_000_000),
    shutdownDrainMs,
    shutdownGraceMs,
    ipAllowlist: list(env, 'IP_ALLOWLIST'),
    policiesFile: str(env, 'POLICIES_FILE'),
    policiesPollIntervalMs: int(env, 'POLICIES_POLL_INTERVAL_MS', 2_000, 100, 3_600_000),
    maxBatchSize: int(env, 'MAX_BATCH_SIZE', 1_000, 1, 10_000),
    maxChecksInFlight: int(env, 'MAX_CHECKS_IN_FLIGHT', 20_000, 1, 10_000_000),
    denyCacheMs: int(env, 'DENY_CACHE_MS', 1_000, 0, 60_000),
    denyCacheMaxKeys: int(env, 'DENY_CACHE_MAX_KEYS', 10_000, 1, 10_000_000),
    trackingCleanupIntervalMs: int(env, 'TRACKING_CLEANUP_INTERVAL_MS', 3_600_000, 1_000, 86_400_000),
    http2StreamTables: bool(env, 'HTTP2_STREAM_TABLES', true),
    http2CompleteResponseOptions: bool(env, 'HTTP2_COMPLETE_RESPONSE_OPTIONS', true),
  };
}

/** Tokens from the list and the file (one per line; blank lines and `#` comments skipped). */
function adminTokens(env: Env): string[] {
  const tokens = noSpaces('ADMIN_TOKENS', list(env, 'ADMIN_TOKENS'));
  const file = str(env, 'ADMIN_TOKENS_FILE');
  if (file === undefined) return tokens;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('ADMIN_TOKENS_FILE', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const fromFile = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (fromFile.length === 0) throw new ConfigError('ADMIN_TOKENS_FILE', `${file} holds no token`);
  return [...tokens, ...noSpaces('ADMIN_TOKENS_FILE', fromFile)];
}

function noSpaces(name: string, tokens: string[]): string[] {
  if (tokens.some((t) => /\s/.test(t))) throw new ConfigError(name, 'a token must not contain white space');
  return tokens;
}

/** An IP allowlist from a variable's entries; a bad entry is a ConfigError naming the variable. */
export function allowlistFrom(variable: string, entries: string[]): IpAllowlist {
  try {
    return new IpAllowlist(entries);
  } catch (err) {
    throw new ConfigError(variable, (err as Error).message);
  }
}
