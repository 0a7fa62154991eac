#!/usr/bin/env node
import { Admin } from './admin/admin.js';
import { AdminAuth } from './admin/admin-auth.js';
import { allowlistFrom, loadConfig, type Config } from './config/env.js';
import { systemClock } from './clock.js';
import { Readiness } from './grpc/readiness.js';
import { startGrpcServer } from './grpc/server.js';
import { RateLimiter } from './limiter/rate-limiter.js';
import { cannotListen, createLogger, routeOtherOutput, type Logger } from './log.js';
import type { IpAllowlist } from './net/ip.js';
import { startGateway } from './gateway/app.js';
import { DenyCache } from './limiter/deny-cache.js';
import { Metrics } from './metrics/metrics.js';
import { DEFAULT_POLICIES } from './policy/policy.js';
import { FilePolicySource } from './policy/file-policy-source.js';
import { StaticPolicySource, type PolicySource } from './policy/policy-source.js';
import { gracefulShutdown } from './shutdown.js';
import { FailoverStore } from './store/failover-store.js';
import { KeySpace } from './store/keys.js';
import { MemoryStore } from './store/memory-store.js';
import { describeTarget, type RedisTarget } from './store/redis-connection.js';
import { RedisStore, StoreStartError } from './store/redis-store.js';
import type { Store } from './store/store.js';
import { TrackingCleanup } from './tracking/cleanup.js';
import { openTracking } from './tracking/open-tracking.js';
import { ActivityBuffer } from './tracking/activity-buffer.js';
import { Tracker } from './tracking/tracker.js';

/** Wiring: the one place that knows every part. */
async function main(): Promise<void> {
  let config: Config;
  let allowlist: IpAllowlist;
  let adminAllowlist: IpAllowlist;
  try {
    config = loadConfig();
    allowlist = allowlistFrom('IP_ALLOWLIST', config.ipAllowlist);
    adminAllowlist = allowlistFrom('ADMIN_IP_ALLOWLIST', config.adminIpAllowlist);
  } catch (err) {
    process.stderr.write(`floodgate: invalid configuration: ${(err as Error).message}\n`);
    process.exit(2);
  }
  const log = createLogger(config.logLevel);
  routeOtherOutput(log);
  const metrics = new Metrics();
  const policies = openPolicies(config, log);
  if (policies instanceof FilePolicySource) metrics.observePolicyReloads(policies);
  const backend = await openBackend(config, log, metrics);
  log.info(
    { file: config.policiesFile ?? null, policies: policies.list().map((p) => p.name) },
    config.policiesFile ? `policies loaded from ${config.policiesFile}` : 'no POLICIES_FILE set: using the default policies',
  );
  const keys = new KeySpace(config.keyPrefix);
  let readiness: Readiness | undefined;
  // Tracking writes are held while Redis is unreachable, and written when it is back.
  const trackingBuffer =
    backend instanceof RedisStore && config.trackingBufferSize > 0
      ? new ActivityBuffer({ capacity: config.trackingBufferSize, retryIntervalMs: config.redisProbeIntervalMs, log })
      : undefined;
  // Rate limits survive a Redis outage through each policy's failure mode; see docs/reliability.md.
  const store: Store =
    backend instanceof RedisStore
      ? new FailoverStore({
          primary: backend,
          local: new MemoryStore(systemClock),
          probeIntervalMs: config.redisProbeIntervalMs,
          failureThreshold: config.redisFailureThreshold,
          log,
          fallbacks: metrics,
          onAvailabilityChange: (available) => {
            readiness?.storeAvailability(available);
            if (available) void trackingBuffer?.flush();
          },
        })
      : backend;
  const { tracking, storeAdmin } = openTracking(backend, keys, systemClock);
  const tracker = new Tracker(tracking, systemClock, trackingBuffer);
  // In-process denies save Redis calls; the memory store is in-process already.
  const denyCache =
    backend instanceof RedisStore && config.denyCacheMs > 0 ? new DenyCache({ maxMs: config.denyCacheMs, maxKeys: config.denyCacheMaxKeys }) : undefined;
  if (denyCache) metrics.observeDenyCache(denyCache);
  const limiter = new RateLimiter({
    store,
    policies,
    keys,
    clock: systemClock,
    allowlist,
    maxBatch: config.maxBatchSize,
    maxInFlight: config.maxChecksInFlight,
    tracker,
    decisions: metrics,
    ...(denyCache ? { denyCache } : {}),
  });
  metrics.observeInFlight(limiter);
  // GetStoreStatus and /metrics report the same outage state.
  const outage = {
    degraded: () => store instanceof FailoverStore && !store.available,
    ...(trackingBuffer ? { trackingBuffer } : {}),
  };
  const admin = new Admin({ tracker, tracking, limiter, policies, keys, store: storeAdmin, clock: systemClock, ...outage });
  metrics.observeOutage(outage);
  const adminAuth = new AdminAuth(config.adminTokens);
  if (!adminAuth.enabled) log.warn('no ADMIN_TOKENS or ADMIN_TOKENS_FILE: the admin API is disabled (every call UNAUTHENTICATED)');
  const cleanup = new TrackingCleanup(tracking, systemClock, log, {
    intervalMs: config.trackingCleanupIntervalMs,
    lockTtlMs: Math.min(config.trackingCleanupIntervalMs, 5 * 60_000),
  });
  cleanup.start();
  const grpc = await startGrpcServer({
    host: config.grpcHost,
    port: config.grpcPort,
    limiter,
    tracker,
    admin,
    adminAuth,
    log,
    rpcObserver: metrics,
    streamTables: config.http2StreamTables,
    completeResponseOptions: config.http2CompleteResponseOptions,
  }).catch(cannotListen(log, 'GRPC_HOST/GRPC_PORT', config.grpcHost, config.grpcPort));
  // The gateway reaches this process's gRPC port through the client SDK, like a standalone one.
  const gateway = config.httpEnabled
    ? await startGateway({ config, grpcAddress: `${loopbackOf(config.grpcHost)}:${grpc.port}`, adminIpAllowlist: adminAllowlist, metrics, log }).catch(
        cannotListen(log, 'HTTP_HOST/HTTP_PORT', config.httpHost, config.httpPort),
      )
    : undefined;
  readiness = new Readiness(grpc.health, () => policies.list().every((p) => p.failureMode === 'local'));
  if (store instanceof FailoverStore) readiness.storeAvailability(store.available);

  const stop = gracefulShutdown({
    server: grpc.server,
    readiness,
    log,
    drainMs: config.shutdownDrainMs,
    graceMs: config.shutdownGraceMs,
    closeStreams: () => grpc.checkStreams.close(),
    close: async () => {
      cleanup.stop();
      // After the drain: its requests in flight have had the gRPC server until now.
      await gateway?.close();
      if (policies instanceof FilePolicySource) policies.close();
      trackingBuffer?.close();
      await store.close();
    },
    exit: (code) => process.exit(code),
  });
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  // Last: the line says the server is ready, signal handling included.
  log.info({ port: grpc.port, store: store.kind }, `gRPC listening on ${config.grpcHost}:${grpc.port}`);
}

/** An address of this host that reaches a server bound to `host`. */
function loopbackOf(host: string): string {
  if (host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** The policy file when POLICIES_FILE is set (a bad file exits 2 with its problems), else the defaults. */
function openPolicies(config: Config, log: Logger): PolicySource {
  if (!config.policiesFile) return new StaticPolicySource(DEFAULT_POLICIES);
  try {
    return new FilePolicySource({ path: config.policiesFile, pollIntervalMs: config.policiesPollIntervalMs, log });
  } catch (err) {
    process.stderr.write(`floodgate: invalid configuration: POLICIES_FILE: ${(err as Error).message}\n`);
    process.exit(2);
  }
}

/** The variable a start-up failure is about: the address, or the password when it was refused. */
function redisVariable(target: RedisTarget, err: unknown): string {
  const problem = err instanceof StoreStartError ? err.problem : 'unreachable';
  if (problem === 'auth' && target.kind !== 'single') return 'REDIS_PASSWORD';
  return { single: 'REDIS_URL', sentinel: 'REDIS_SENTINELS', cluster: 'REDIS_CLUSTER_NODES' }[target.kind];
}

/** Redis (single, Sentinel or Cluster) when configured, else the in-process memory store. */
async function openBackend(config: Config, log: Logger, metrics: Metrics): Promise<RedisStore | MemoryStore> {
  const target = config.redisTarget;
  if (!target) {
    log.info({ store: 'memory' }, 'no Redis configured: using the in-process memory store (limits are per process, not shared)');
    return new MemoryStore(systemClock);
  }
  log.info({ store: target.kind }, `connecting to Redis: ${describeTarget(target)}`);
  try {
    return await RedisStore.connect({
      target,
      ...(config.redisPassword !== undefined ? { password: config.redisPassword } : {}),
      ...(config.redisSentinelPassword !== undefined ? { sentinelPassword: config.redisSentinelPassword } : {}),
      tls: config.redisTls,
      commandTimeoutMs: config.redisCommandTimeoutMs,
      connectTimeoutMs: config.redisConnectTimeoutMs,
      observer: metrics,
      onRetry: (reason) => log.warn({ store: target.kind, reason }, `Redis not reachable yet, trying again until REDIS_CONNECT_TIMEOUT_MS: ${reason}`),
    });
  } catch (err) {
    // One line naming the variable to fix; the reason is in the message, a stack would add nothing.
    log.fatal({ store: target.kind }, `${redisVariable(target, err)}: ${(err as Error).message}`);
    process.exit(1);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`floodgate: fatal: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
