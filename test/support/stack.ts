import { createClient, type FloodgateClient } from '@floodgate/client';
import { pino } from 'pino';
import { Cluster, Redis } from 'ioredis';
import { inject } from 'vitest';
import { ManualClock } from '../../server/src/clock.js';
import { Readiness } from '../../server/src/grpc/readiness.js';
import { startGrpcServer, type GrpcServer } from '../../server/src/grpc/server.js';
import { DenyCache } from '../../server/src/limiter/deny-cache.js';
import { RateLimiter } from '../../server/src/limiter/rate-limiter.js';
import { IpAllowlist } from '../../server/src/net/ip.js';
import { DEFAULT_POLICIES, type Policy } from '../../server/src/policy/policy.js';
import { StaticPolicySource } from '../../server/src/policy/policy-source.js';
import { FailoverStore } from '../../server/src/store/failover-store.js';
import { KeySpace } from '../../server/src/store/keys.js';
import { MemoryStore } from '../../server/src/store/memory-store.js';
import { parseHostPorts, type RedisTarget } from '../../server/src/store/redis-connection.js';
import { RedisStore } from '../../server/src/store/redis-store.js';
import type { Store } from '../../server/src/store/store.js';
import { Admin } from '../../server/src/admin/admin.js';
import { AdminAuth } from '../../server/src/admin/admin-auth.js';
import type { StoreAdmin } from '../../server/src/admin/store-admin.js';
import { openTracking } from '../../server/src/tracking/open-tracking.js';
import { Tracker } from '../../server/src/tracking/tracker.js';
import type { TrackingStore } from '../../server/src/tracking/tracking-store.js';

/** `cluster` is the 3-master Redis Cluster the test setup starts; `redis` the single server at redisUrl. */
export type StoreName = 'memory' | 'redis' | 'cluster';

export const silentLog = pino({ level: 'silent' });

/** A unique key prefix per test, so tests sharing one Redis never see each other's keys. */
export function uniquePrefix(): string {
  return `t${Math.random().toString(36).slice(2, 10)}:`;
}

export interface StackOptions {
  policies?: readonly Policy[];
  allowlist?: string[];
  maxBatch?: number;
  /** A Redis of the test's own (which it may kill or pause) instead of the shared one. */
  target?: RedisTarget;
  /** The limiter's deny cache with this DENY_CACHE_MS (none when unset). */
  denyCacheMs?: number;
  /** grpcStack only: HTTP2_STREAM_TABLES (default true). */
  streamTables?: boolean;
  /** grpcStack only: HTTP2_COMPLETE_RESPONSE_OPTIONS (default true). */
  completeResponseOptions?: boolean;
  /** The gRPC server's bound per CheckLimitStream. */
  maxPendingPerStream?: number;
  /** Redis behind the failover layer, as main.ts wires it, with these timings. */
  failover?: { commandTimeoutMs: number; probeIntervalMs: number; failureThreshold?: number };
}

export async function openStore(name: StoreName, clock: ManualClock, redisUrl: string, opts: StackOptions = {}): Promise<MemoryStore | RedisStore> {
  if (name === 'memory') return new MemoryStore(clock);
  const target = opts.target ?? redisTarget(name, redisUrl);
  return RedisStore.connect({ target, commandTimeoutMs: opts.failover?.commandTimeoutMs ?? 2_000, connectTimeoutMs: 5_000 });
}

export function redisTarget(name: Exclude<StoreName, 'memory'>, redisUrl: string): RedisTarget {
  return name === 'cluster' ? { kind: 'cluster', nodes: parseHostPorts(inject('redisClusterNodes')) } : { kind: 'single', url: redisUrl };
}

/** A plain client of the Redis behind a store, for looking at keys directly. */
export function rawRedis(name: Exclude<StoreName, 'memory'>, redisUrl: string): Redis | Cluster {
  const target = redisTarget(name, redisUrl);
  return target.kind === 'cluster' ? new Cluster(target.nodes) : new Redis(redisUrl);
}

/** The admin token of grpcStack's server and client. */
export const ADMIN_TOKEN = 'test-admin-token';

export interface LimiterStack {
  clock: ManualClock;
  store: Store;
  keys: KeySpace;
  limiter: RateLimiter;
  denyCache: DenyCache | undefined;
  tracking: TrackingStore;
  storeAdmin: StoreAdmin;
  tracker: Tracker;
  admin: Admin;
  /** With `failover`: called when Redis becomes unreachable (false) and reachable again (true). */
  onAvailabilityChange(listener: (available: boolean) => void): void;
  close(): Promise<void>;
}

export async function limiterStack(
  name: StoreName,
  redisUrl: string,
  opts: StackOptions = {},
): Promise<LimiterStack> {
  const clock = new ManualClock();
  const backend = await openStore(name, clock, redisUrl, opts);
  let listener: ((available: boolean) => void) | undefined;
  const store: Store =
    opts.failover && backend instanceof RedisStore
      ? new FailoverStore({
          primary: backend,
          local: new MemoryStore(clock),
          probeIntervalMs: opts.failover.probeIntervalMs,
          failureThreshold: opts.failover.failureThreshold ?? 3,
          log: silentLog,
          onAvailabilityChange: (available) => listener?.(available),
        })
      : backend;
  const keys = new KeySpace(uniquePrefix());
  const policies = new StaticPolicySource(opts.policies ?? DEFAULT_POLICIES);
  const { tracking, storeAdmin } = openTracking(backend, keys, clock);
  const tracker = new Tracker(tracking, clock);
  const denyCache = opts.denyCacheMs ? new DenyCache({ maxMs: opts.denyCacheMs, maxKeys: 10_000 }) : undefined;
  const limiter = new RateLimiter({
    store,
    policies,
    keys,
    clock,
    allowlist: new IpAllowlist(opts.allowlist ?? []),
    maxBatch: opts.maxBatch ?? 100,
    tracker,
    ...(denyCache ? { denyCache } : {}),
  });
  const admin = new Admin({ tracker, tracking, limiter, policies, keys, store: storeAdmin, clock });
  return {
    clock,
    store,
    keys,
    limiter,
    denyCache,
    tracking,
    storeAdmin,
    tracker,
    admin,
    onAvailabilityChange: (fn) => (listener = fn),
    close: () => store.close(),
  };
}

/** The limiter behind a real gRPC server on loopback, and a client for it; health follows the store as in main.ts. */
export async function grpcStack(
  name: StoreName,
  redisUrl: string,
  opts: StackOptions = {},
): Promise<LimiterStack & { grpc: GrpcServer; client: FloodgateClient; address: string }> {
  const stack = await limiterStack(name, redisUrl, opts);
  const grpc = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    limiter: stack.limiter,
    tracker: stack.tracker,
    admin: stack.admin,
    adminAuth: new AdminAuth([ADMIN_TOKEN]),
    log: silentLog,
    ...(opts.streamTables !== undefined ? { streamTables: opts.streamTables } : {}),
    ...(opts.completeResponseOptions !== undefined ? { completeResponseOptions: opts.completeResponseOptions } : {}),
    ...(opts.maxPendingPerStream !== undefined ? { maxPendingPerStream: opts.maxPendingPerStream } : {}),
  });
  const readiness = new Readiness(grpc.health, () => (opts.policies ?? DEFAULT_POLICIES).every((p) => p.failureMode === 'local'));
  stack.onAvailabilityChange((available) => readiness.storeAvailability(available));
  const address = `127.0.0.1:${grpc.port}`;
  const client = createClient({ address, token: ADMIN_TOKEN, deadlineMs: 5_000 });
  return {
    ...stack,
    grpc,
    client,
    address,
    close: async () => {
      client.close();
      grpc.server.forceShutdown();
      await stack.close();
    },
  };
}

/** Every key under a prefix with its PTTL (-1: no TTL), on every master of a cluster. */
export async function keysWithTtl(redisUrl: string, prefix: string, name: Exclude<StoreName, 'memory'> = 'redis'): Promise<Map<string, number>> {
  const client = rawRedis(name, redisUrl);
  try {
    if (client instanceof Cluster) await new Promise((r) => client.once('ready', r));
    const nodes = client instanceof Cluster ? client.nodes('master') : [client];
    const out = new Map<string, number>();
    for (const node of nodes) {
      let cursor = '0';
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
        cursor = next;
        for (const k of keys) out.set(k, await node.pttl(k));
      } while (cursor !== '0');
    }
    return out;
  } finally {
    client.disconnect();
  }
}

export function policy(overrides: Partial<Policy> & { name: string }): Policy {
  const limit = overrides.limit ?? 5;
  return {
    limit,
    windowMs: 60_000,
    algorithm: 'sliding_log',
    scopes: ['user', 'ip'],
    ipLimit: overrides.ipLimit ?? limit,
    burst: overrides.burst ?? limit,
    shadow: false,
    failureMode: 'local',
    description: '',
    ...overrides,
  };
}
