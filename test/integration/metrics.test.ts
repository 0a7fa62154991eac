import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/src/clock.js';
import { RateLimiter } from '../../server/src/limiter/rate-limiter.js';
import { Metrics } from '../../server/src/metrics/metrics.js';
import { IpAllowlist } from '../../server/src/net/ip.js';
import { StaticPolicySource } from '../../server/src/policy/policy-source.js';
import { FailoverStore } from '../../server/src/store/failover-store.js';
import { KeySpace } from '../../server/src/store/keys.js';
import { MemoryStore } from '../../server/src/store/memory-store.js';
import { RedisStore } from '../../server/src/store/redis-store.js';
import { createLogger } from '../../server/src/log.js';
import { RedisServer } from '../support/redis-server.js';
import { policy, uniquePrefix } from '../support/stack.js';

/** The value of one sample line of the exposition, or undefined when absent. */
async function sample(metrics: Metrics, series: string): Promise<number | undefined> {
  const { body } = await metrics.expose();
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('metrics from the limiter and the Redis store', () => {
  const cleanup: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
  });

  /** A Redis of the test's own (it stops it), stopped after the test if still running. */
  async function ownRedis(): Promise<RedisServer> {
    const redis = await RedisServer.start();
    cleanup.push(() => redis.stop());
    return redis;
  }

  it('counts decisions by policy and reason, times each script, and counts failed commands', async () => {
    const redis = await ownRedis();
    const metrics = new Metrics();
    const store = await RedisStore.connect({ target: { kind: 'single', url: redis.url }, commandTimeoutMs: 1_000, connectTimeoutMs: 5_000, observer: metrics });
    cleanup.push(() => store.close());
    const limiter = new RateLimiter({
      store,
      policies: new StaticPolicySource([policy({ name: 'p', limit: 2, shadow: false }), policy({ name: 'shadowed', limit: 1, shadow: true })]),
      keys: new KeySpace(uniquePrefix()),
      clock: new ManualClock(),
      allowlist: new IpAllowlist(['192.0.2.0/24']),
      maxBatch: 10,
      decisions: metrics,
    });

    for (let i = 0; i < 3; i++) await limiter.check({ policy: 'p', userId: 'u', ip: '', dryRun: false, recordActivity: '', sessionId: '' });
    await limiter.check({ policy: 'p', userId: '', ip: '192.0.2.9', dryRun: false, recordActivity: '', sessionId: '' });
    for (let i = 0; i < 2; i++) await limiter.check({ policy: 'shadowed', userId: 'u', ip: '', dryRun: false, recordActivity: '', sessionId: '' });

    expect(await sample(metrics, 'floodgate_decisions_total{policy="p",result="ok",allowed="true"}')).toBe(2);
    expect(await sample(metrics, 'floodgate_decisions_total{policy="p",result="over_limit",allowed="false"}')).toBe(1);
    expect(await sample(metrics, 'floodgate_decisions_total{policy="p",result="allowlisted",allowed="true"}')).toBe(1);
    expect(await sample(metrics, 'floodgate_decisions_total{policy="shadowed",result="over_limit",allowed="true"}')).toBe(1);
    // 3 + 2 checks each ran one script; the allowlisted one touched no key.
    expect(await sample(metrics, 'floodgate_redis_command_duration_seconds_count{command="fg_sliding_log"}')).toBe(5);
    expect(await sample(metrics, 'floodgate_redis_errors_total{command="fg_sliding_log"}')).toBeUndefined();

    await redis.stop();
    await expect(limiter.check({ policy: 'p', userId: 'v', ip: '', dryRun: false, recordActivity: '', sessionId: '' })).rejects.toThrow(
      /store unavailable/,
    );
    // In plain words, not the Redis client's own (which names its options).
    await expect(store.ping()).rejects.toThrow(/^store unavailable: (not connected to Redis|the connection to Redis closed)$/);
    expect(await sample(metrics, 'floodgate_redis_errors_total{command="fg_sliding_log"}')).toBe(1);
    expect(await sample(metrics, 'floodgate_redis_errors_total{command="ping"}')).toBe(1);
  });

  it('counts the keys decided by each failure mode while Redis does not answer, and none while it does', async () => {
    const redis = await ownRedis();
    const metrics = new Metrics();
    const primary = await RedisStore.connect({ target: { kind: 'single', url: redis.url }, commandTimeoutMs: 500, connectTimeoutMs: 5_000 });
    const clock = new ManualClock();
    const store = new FailoverStore({ primary, local: new MemoryStore(clock), probeIntervalMs: 60_000, failureThreshold: 3, log: createLogger('silent'), fallbacks: metrics });
    cleanup.push(() => store.close());
    const policies = [policy({ name: 'loc', failureMode: 'local' }), policy({ name: 'opn', failureMode: 'open' }), policy({ name: 'cls', failureMode: 'closed' })];
    const limiter = new RateLimiter({ store, policies: new StaticPolicySource(policies), keys: new KeySpace(uniquePrefix()), clock, allowlist: new IpAllowlist([]), maxBatch: 10 });
    const checks = (ip: string) => policies.map((p) => ({ policy: p.name, userId: 'u', ip, dryRun: false, recordActivity: '', sessionId: '' }));

    await limiter.checkMany(checks(''));
    expect(await sample(metrics, 'floodgate_fallback_decisions_total{failure_mode="local"}')).toBeUndefined();

    await redis.stop();
    // Every policy limits by user here; with an IP as well each check decides two keys.
    await limiter.checkMany([...checks(''), ...checks('192.0.2.1')]);
    expect(await sample(metrics, 'floodgate_fallback_decisions_total{failure_mode="local"}')).toBe(3);
    expect(await sample(metrics, 'floodgate_fallback_decisions_total{failure_mode="open"}')).toBe(3);
    expect(await sample(metrics, 'floodgate_fallback_decisions_total{failure_mode="closed"}')).toBe(3);
  });

  it('reads the outage state and policy reloads from their owners at every scrape', async () => {
    const metrics = new Metrics();
    expect(await sample(metrics, 'floodgate_degraded')).toBe(0);
    expect(await sample(metrics, 'floodgate_tracking_buffer_size')).toBe(0);
    expect(await sample(metrics, 'floodgate_policy_reloads_total{result="failure"}')).toBe(0);

    let degraded = true;
    const buffer = { size: 42, dropped: 3 };
    const policies = { reloads: 1, reloadFailures: 2 };
    metrics.observeOutage({ degraded: () => degraded, trackingBuffer: buffer });
    metrics.observePolicyReloads(policies);
    expect(await sample(metrics, 'floodgate_degraded')).toBe(1);
    expect(await sample(metrics, 'floodgate_tracking_buffer_size')).toBe(42);
    expect(await sample(metrics, 'floodgate_tracking_buffer_dropped_total')).toBe(3);
    expect(await sample(metrics, 'floodgate_policy_reloads_total{result="success"}')).toBe(1);
    expect(await sample(metrics, 'floodgate_policy_reloads_total{result="failure"}')).toBe(2);

    degraded = false;
    buffer.size = 0;
    buffer.dropped = 5;
    policies.reloadFailures = 3;
    expect(await sample(metrics, 'floodgate_degraded')).toBe(0);
    expect(await sample(metrics, 'floodgate_tracking_buffer_size')).toBe(0);
    expect(await sample(metrics, 'floodgate_tracking_buffer_dropped_total')).toBe(5);
    expect(await sample(metrics, 'floodgate_policy_reloads_total{result="failure"}')).toBe(3);
  });
});
