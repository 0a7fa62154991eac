import type { Writable } from 'node:stream';
import { parseHostPort, type HostPort } from '@floodgate/client';
import { Cluster, type RedisOptions } from 'ioredis';
import type { RedisObserver } from '../metrics/observers.js';
import { MeteredCluster, MeteredRedis } from './metered-redis.js';

export type { HostPort };

/** Where Redis is: one server by URL, a Sentinel-managed master, or a Cluster. */
export type RedisTarget =
  /** `db`: the database the URL names, checked at connect (ioredis only reports a failed SELECT as an event). */
  | { kind: 'single'; url: string; db?: number }
  | { kind: 'sentinel'; sentinels: HostPort[]; name: string }
  | { kind: 'cluster'; nodes: HostPort[] };

export interface RedisConnectionOptions {
  target: RedisTarget;
  /** For Sentinel and Cluster (a URL carries its own). */
  password?: string;
  /** For the sentinels themselves, when they require one. */
  sentinelPassword?: string;
  /** TLS for Sentinel and Cluster (a URL says so with rediss://). */
  tls?: boolean;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
  /** Told of every command's latency and failure (metrics); nothing when unset. */
  observer?: RedisObserver;
}

export type RedisClient = InstanceType<typeof MeteredRedis> | InstanceType<typeof MeteredCluster>;

/** Reconnect quickly at first, then every 2 s at most, forever: Floodgate must find Redis again by itself. */
const reconnectDelay = (times: number): number => Math.min(50 * 2 ** times, 2_000);

/**
 * Options that keep every call bounded: no offline queue (a command fails at once while
 * disconnected instead of waiting), no retries, and a command timeout below the RPC deadline.
 * No auto-pipelining: the commands of a turn are already issued together (see inOneWrite), which
 * keeps their order, and ioredis's per-batch pipelines cost more CPU and keep every call's objects
 * alive for longer (on a Cluster they also mishandled a moving slot, below).
 */
export function boundedOptions(o: Pick<RedisConnectionOptions, 'commandTimeoutMs' | 'connectTimeoutMs'>): RedisOptions {
  return {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: o.connectTimeoutMs,
    lazyConnect: true,
    retryStrategy: reconnectDelay,
  };
}

/**
 * Runs `send`, which issues commands, with the client's connections corked, so that the commands
 * it issues leave in one write per connection (one round trip per node) rather than one each.
 */
export function inOneWrite(client: RedisClient, send: () => void): void {
  const connections: Array<{ stream?: Writable }> = client instanceof Cluster ? client.nodes('all') : [client];
  const sockets = connections.flatMap((c) => (c.stream ? [c.stream] : []));
  for (const socket of sockets) socket.cork();
  try {
    send();
  } finally {
    for (const socket of sockets) socket.uncork();
  }
}

/** One ioredis client for any of the three topologies, not yet connected (call `connect()`). */
export function createRedisClient(o: RedisConnectionOptions): RedisClient {
  const client = newClient(o);
  if (o.observer) client.observe(o.observer);
  return client;
}

function newClient(o: RedisConnectionOptions): RedisClient {
  const bounded = boundedOptions(o);
  const auth: RedisOptions = {
    ...(o.password !== undefined ? { password: o.password } : {}),
    ...(o.tls ? { tls: {} } : {}),
  };
  switch (o.target.kind) {
    case 'single':
      return new MeteredRedis(o.target.url, bounded);
    case 'sentinel':
      return new MeteredRedis({
        ...bounded,
        ...auth,
        sentinels: o.target.sentinels,
        name: o.target.name,
        ...(o.sentinelPassword !== undefined ? { sentinelPassword: o.sentinelPassword } : {}),
        ...(o.tls ? { enableTLSForSentinelMode: true, sentinelTLS: {} } : {}),
        sentinelRetryStrategy: reconnectDelay,
      });
    case 'cluster': {
      const { enableOfflineQueue, retryStrategy, lazyConnect, ...perNode } = bounded;
      return new MeteredCluster(o.target.nodes, {
        enableOfflineQueue,
        lazyConnect,
        // Off, as on one Redis: a turn's commands leave corked, one write per node (inOneWrite).
        // Its auto-pipelines surfaced ASK errors and hung calls while a slot moved; without them
        // commands issued while a master's connection is still opening can leave out of order,
        // which is why RedisStore.connect connects every master first.
        enableAutoPipelining: false,
        clusterRetryStrategy: retryStrategy,
        // A node that is down or failing over: retry briefly (about 300 ms in all), then fail so
        // the failure modes answer, instead of the default 16 retries 100 ms apart.
        maxRedirections: 6,
        // A slot being moved refuses multi-key scripts (TRYAGAIN) until the move ends; the store
        // then decides key by key at once (store/coalescer.ts) rather than waiting it out.
        retryDelayOnTryAgain: 0,
        retryDelayOnFailover: 50,
        retryDelayOnClusterDown: 50,
        slotsRefreshTimeout: o.connectTimeoutMs,
        redisOptions: { ...perNode, ...auth },
      });
    }
  }
}

/** Where the target is, for logs and errors, without credentials. */
export function describeTarget(target: RedisTarget): string {
  switch (target.kind) {
    case 'single':
      return target.url.replace(/\/\/[^@/]*@/, '//***@');
    case 'sentinel':
      return `sentinel master "${target.name}" via ${target.sentinels.map(hostPort).join(',')}`;
    case 'cluster':
      return `cluster ${target.nodes.map(hostPort).join(',')}`;
  }
}

function hostPort(h: HostPort): string {
  return `${h.host}:${h.port}`;
}

/** Parses `host:port,host:port` (IPv6 as `[addr]:port`); throws naming the problem. */
export function parseHostPorts(raw: string): HostPort[] {
  const items = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (items.length === 0) throw new Error('expected host:port[,host:port...]');
  return items.map(parseHostPort);
}
