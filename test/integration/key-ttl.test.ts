import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { TrackingCleanup } from '../../server/src/tracking/cleanup.js';
import { RETENTION_MS, SESSION_GAP_MS, SESSION_KEEP_MS } from '../../server/src/tracking/tracking-store.js';
import { failure } from '../support/failure.js';
import { RedisServer } from '../support/redis-server.js';
import { keysWithTtl, limiterStack, rawRedis, silentLog, type LimiterStack } from '../support/stack.js';

const redisUrl = inject('redisUrl');

describe('Redis keys after a mixed workload', () => {
  let s: LimiterStack;
  beforeEach(async () => {
    s = await limiterStack('redis', redisUrl, { allowlist: ['10.0.0.0/8'] });
  });
  afterEach(() => s.close());

  it('all carry a TTL, except the documented permanent suspension keys', async () => {
    const activities = ['ai', 'tts', 'image', 'login'];
    const policies = ['general', 'ai', 'pronunciation', 'tts', 'image'];
    for (let i = 0; i < 300; i++) {
      const userId = `user:{${i % 40}}`; // ids with tag and separator characters
      const ip = i % 3 === 0 ? `10.0.${i % 7}.1` : `203.0.113.${i % 50}`;
      await s.limiter.check({
        policy: policies[i % policies.length]!,
        userId,
        ip,
        cost: undefined,
        dryRun: i % 11 === 0,
        recordActivity: i % 2 === 0 ? activities[i % activities.length]! : '',
        sessionId: '',
      });
      await s.tracker.record(s.tracker.event({ userId, activity: activities[i % 4]!, ip, sessionId: i % 5 === 0 ? `s${i}` : '', atMs: 0 }));
      s.clock.advance(i % 10 === 0 ? SESSION_GAP_MS + 1 : 7_000);
    }
    await s.admin.setSuspension({ userId: 'user:{1}', suspended: true, reason: 'timed', durationMs: 3_600_000 });
    await s.admin.setSuspension({ userId: 'user:{2}', suspended: true, reason: 'forever', durationMs: 0 });
    await s.admin.setSuspension({ userId: 'user:{3}', suspended: true, reason: 'lifted', durationMs: 0 });
    await s.admin.setSuspension({ userId: 'user:{3}', suspended: false, reason: '', durationMs: 0 });
    await s.admin.resetTracking({ userId: 'user:{4}' });
    await s.admin.resetRateLimits({ userId: 'user:{5}', ip: '', policy: '' });
    await s.admin.statistics();
    await new TrackingCleanup(s.tracking, s.clock, silentLog, { intervalMs: 3_600_000, lockTtlMs: 60_000 }).runOnce();

    const keys = await keysWithTtl(redisUrl, s.keys.prefix);
    expect(keys.size).toBeGreaterThan(100);
    const permanent = [...keys].filter(([, ttl]) => ttl === -1).map(([k]) => k);
    // Documented in docs/tracking.md: a suspension without expiry, and the index holding it.
    expect(permanent.sort()).toEqual([s.keys.block('user', 'user:{2}'), s.keys.trackIndex('susp')].sort());
    for (const [key, ttl] of keys) {
      if (ttl === -1) continue;
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(RETENTION_MS + 24 * 3_600_000);
    }
    // Per-user data lives 7 days after its last write.
    expect(keys.get(s.keys.trackUser('user:{0}'))).toBeGreaterThan(RETENTION_MS - 60_000);
    expect(keys.get(s.keys.trackSession('user:{0}'))).toBeLessThanOrEqual(SESSION_KEEP_MS);

    // Lifting the last permanent suspension gives the index a TTL again.
    await s.admin.setSuspension({ userId: 'user:{2}', suspended: false, reason: '', durationMs: 0 });
    const after = await keysWithTtl(redisUrl, s.keys.prefix);
    expect([...after].filter(([, ttl]) => ttl === -1)).toEqual([]);
  });
});

describe('the hourly tracking cleanup', () => {
  let s: LimiterStack;
  beforeEach(async () => {
    s = await limiterStack('redis', redisUrl);
  });
  afterEach(() => s.close());

  it('runs on one of two racing runners at a time', async () => {
    for (const id of ['a', 'b', 'c']) await s.tracker.record(s.tracker.event({ userId: id, activity: 'ai', ip: '', sessionId: '', atMs: 0 }));
    s.clock.advance(RETENTION_MS);
    const opts = { intervalMs: 3_600_000, lockTtlMs: 60_000 };
    const runners = [new TrackingCleanup(s.tracking, s.clock, silentLog, opts), new TrackingCleanup(s.tracking, s.clock, silentLog, opts)];
    for (let round = 0; round < 5; round++) {
      const results = await Promise.all(runners.map((r) => r.runOnce()));
      // Exactly one ran; the other found the lock held.
      expect(results.filter((r) => r === undefined)).toHaveLength(1);
      expect(results.find((r) => r !== undefined)).toBe(round === 0 ? 6 : 0); // 3 users, 3 top entries
    }
    // Each released its own lock: a third runner gets it.
    expect(await s.tracking.tryLock('cleanup', 'third', 1_000, s.clock.now())).toBe(true);
    expect(await runners[0]!.runOnce()).toBeUndefined();
  });

  it('runs soon after start, not only after its first interval (replicas may restart more often than that)', async () => {
    await s.tracker.record(s.tracker.event({ userId: 'stale', activity: 'ai', ip: '', sessionId: '', atMs: 0 }));
    s.clock.advance(RETENTION_MS);
    const cleanup = new TrackingCleanup(s.tracking, s.clock, silentLog, { intervalMs: 3_600_000, lockTtlMs: 60_000, firstRunWithinMs: 50 });
    cleanup.start();
    try {
      // The index itself (reads already leave stale users out): trimmed by the run at start.
      const redis = rawRedis('redis', redisUrl);
      try {
        await expect.poll(() => redis.zcard(s.keys.trackIndex('users')), { timeout: 2_000 }).toBe(0);
      } finally {
        redis.disconnect();
      }
    } finally {
      cleanup.stop();
    }
  });
});

describe('tracking when Redis is gone', () => {
  it('fails RecordActivity, GetUserStats and admin reads with UNAVAILABLE; store status reports disconnected', async () => {
    const redis = await RedisServer.start();
    const s = await limiterStack('redis', redis.url);
    let stopped = false;
    try {
      await s.tracker.record(s.tracker.event({ userId: 'gone', activity: 'ai', ip: '', sessionId: '', atMs: 0 }));
      await redis.stop();
      stopped = true;
      // One at a time: a call made before the previous one's failure is awaited would reject unobserved.
      for (const call of [
        () => s.tracker.record(s.tracker.event({ userId: 'gone', activity: 'ai', ip: '', sessionId: '', atMs: 0 })),
        () => s.tracker.stats('gone'),
        () => s.admin.statistics(),
        () => s.admin.setSuspension({ userId: 'gone', suspended: true, reason: 'test', durationMs: 0 }),
      ]) {
        expect((await failure(call())).codeName).toBe('UNAVAILABLE');
      }
      expect(await s.admin.storeStatus()).toMatchObject({ mode: 'single', connected: false, keys: 0 });
    } finally {
      await s.close();
      if (!stopped) await redis.stop();
    }
  });
});
