import { Reason, type CheckLimitRequest } from '@floodgate/client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { scriptCalls } from '../../bench/redis-info.js';
import { ManualClock } from '../../server/src/clock.js';
import { DenyCache, refreshAhead } from '../../server/src/limiter/deny-cache.js';
import { RateLimiter } from '../../server/src/limiter/rate-limiter.js';
import { IpAllowlist } from '../../server/src/net/ip.js';
import type { Policy } from '../../server/src/policy/policy.js';
import { KeySpace } from '../../server/src/store/keys.js';
import { RedisStore } from '../../server/src/store/redis-store.js';
import { limiterStack, policy, uniquePrefix, type LimiterStack } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const WINDOW = 60_000;
const POLICIES = [policy({ name: 'p', limit: 3, windowMs: WINDOW, scopes: ['user', 'ip'] }), policy({ name: 'ip-only', limit: 2, windowMs: WINDOW, scopes: ['ip'] })];

const check = (c: Partial<CheckLimitRequest>): CheckLimitRequest => ({ policy: 'p', userId: '', ip: '', dryRun: false, recordActivity: '', sessionId: '', ...c });

describe('the deny cache', () => {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  async function stack(denyCacheMs: number): Promise<LimiterStack> {
    const s = await limiterStack('redis', redisUrl, { policies: POLICIES, denyCacheMs });
    open.push(s);
    return s;
  }

  it('answers a flood on an over-limit key without Redis until the retry time, then asks Redis again', async () => {
    const s = await stack(10 * WINDOW);
    const store = s.store as RedisStore;
    for (let i = 0; i < 3; i++) expect((await s.limiter.check(check({ userId: 'flood' }))).allowed).toBe(true);
    s.clock.advance(1_000);
    const first = await s.limiter.check(check({ userId: 'flood' }));
    expect(first).toMatchObject({ allowed: false, reason: Reason.REASON_OVER_LIMIT });
    expect(first.statuses[0]!.retryAfterMs).toBe(WINDOW - 1_000);

    const before = await scriptCalls(store.client);
    for (let i = 1; i <= 200; i++) {
      s.clock.advance(100);
      const again = await s.limiter.check(check({ userId: 'flood' }));
      expect(again).toMatchObject({ allowed: false, reason: Reason.REASON_OVER_LIMIT });
      expect(again.statuses[0]).toMatchObject({ remaining: 0, retryAfterMs: WINDOW - 1_000 - 100 * i });
    }
    expect((await scriptCalls(store.client)) - before).toBe(0);
    expect(s.denyCache!.hits).toBe(200);

    // At the retry time the first unit is free again: Redis decides, and allows.
    s.clock.advance(WINDOW - 1_000 - 20_000);
    expect((await s.limiter.check(check({ userId: 'flood' }))).allowed).toBe(true);
    expect((await scriptCalls(store.client)) - before).toBe(1);
  });

  it('asks Redis again within DENY_CACHE_MS even when the retry time is later, one request renewing the entry', async () => {
    const s = await stack(100);
    const store = s.store as RedisStore;
    for (let i = 0; i < 4; i++) await s.limiter.check(check({ userId: 'capped' }));
    const before = await scriptCalls(store.client);
    s.clock.advance(100 - refreshAhead(100) - 1);
    expect((await s.limiter.check(check({ userId: 'capped' }))).allowed).toBe(false);
    expect((await scriptCalls(store.client)) - before).toBe(0);
    // The first request in the last refreshAhead() of the entry goes to Redis; while it is out,
    // the others are still answered here.
    s.clock.advance(1);
    const [renewing, ...others] = await Promise.all(Array.from({ length: 5 }, () => s.limiter.check(check({ userId: 'capped' }))));
    expect([renewing, ...others].map((r) => r!.allowed)).toEqual([false, false, false, false, false]);
    expect((await scriptCalls(store.client)) - before).toBe(1);
    expect(s.denyCache!.hits).toBe(1 + others.length);
    // Renewed from then on for another 100 ms, so past the first entry's end nothing is asked.
    s.clock.advance(refreshAhead(100));
    expect((await s.limiter.check(check({ userId: 'capped' }))).allowed).toBe(false);
    expect((await scriptCalls(store.client)) - before).toBe(1);
  });

  it('has Redis decide one request of a concurrent flood per renewal, never the flood that arrives while it is out', async () => {
    const s = await stack(1_000);
    for (let i = 0; i < 4; i++) await s.limiter.check(check({ userId: 'flood' }));
    const hitsBefore = s.denyCache!.hits;
    let asked = 0;
    // 3 s of a flood: every 10 ms, 20 requests at once.
    for (let step = 1; step <= 300; step++) {
      s.clock.advance(10);
      const answers = await Promise.all(Array.from({ length: 20 }, () => s.limiter.check(check({ userId: 'flood' }))));
      expect(answers.every((a) => a.allowed === false && a.reason === Reason.REASON_OVER_LIMIT)).toBe(true);
      asked += answers.length;
    }
    // Renewed at 900, 1,800 and 2,700 ms by one request each; left to run out at 1,000 and 2,000
    // ms, each time all 20 requests of that step would have gone to Redis.
    expect(asked - (s.denyCache!.hits - hitsBefore)).toBe(3);
  });

  it('leaves other costs, other keys and dry runs of another cost to Redis, and needs every key of a request cached', async () => {
    const s = await stack(10 * WINDOW);
    const store = s.store as RedisStore;
    for (let i = 0; i < 4; i++) await s.limiter.check(check({ userId: 'k' }));
    const before = await scriptCalls(store.client);
    expect((await s.limiter.check(check({ userId: 'k', cost: 2 }))).allowed).toBe(false);
    expect((await s.limiter.check(check({ userId: 'other' }))).allowed).toBe(true);
    // The user key is cached, the IP key is not: the request goes to Redis (both keys, then the
    // refund of the IP key, which allowed while the user key denied).
    expect((await s.limiter.check(check({ userId: 'k', ip: '192.0.2.1' }))).allowed).toBe(false);
    expect((await scriptCalls(store.client)) - before).toBe(1 + 1 + 3);
    // A dry run of the cached cost is answered from the cache.
    expect((await s.limiter.check(check({ userId: 'k', dryRun: true }))).allowed).toBe(false);
    expect((await scriptCalls(store.client)) - before).toBe(5);
  });

  it('is forgotten for a subject by an admin reset (allowed at once) and by a suspension (suspended at once)', async () => {
    const s = await stack(10 * WINDOW);
    for (let i = 0; i < 4; i++) await s.limiter.check(check({ userId: 'reset-me' }));
    expect((await s.limiter.check(check({ userId: 'reset-me' }))).allowed).toBe(false);
    await s.admin.resetRateLimits({ userId: 'reset-me', ip: '', policy: '' });
    expect((await s.limiter.check(check({ userId: 'reset-me' }))).allowed).toBe(true);

    for (let i = 0; i < 3; i++) await s.limiter.check(check({ userId: 'suspend-me' }));
    expect((await s.limiter.check(check({ userId: 'suspend-me' }))).reason).toBe(Reason.REASON_OVER_LIMIT);
    await s.admin.setSuspension({ userId: 'suspend-me', suspended: true, reason: 'abuse', durationMs: 0 });
    expect((await s.limiter.check(check({ userId: 'suspend-me' }))).reason).toBe(Reason.REASON_SUSPENDED);
  });

  it('never hides a suspension where the check peeks the user first (IP-only policy), alone or in a batch', async () => {
    const s = await stack(10 * WINDOW);
    const viaIp = check({ policy: 'ip-only', userId: 'bad', ip: '192.0.2.50' });
    for (let i = 0; i < 3; i++) await s.limiter.check(check({ policy: 'ip-only', userId: 'good', ip: '192.0.2.50' }));
    // The IP key is over its limit and cached.
    expect((await s.limiter.check(check({ policy: 'ip-only', userId: 'good', ip: '192.0.2.50' }))).reason).toBe(Reason.REASON_OVER_LIMIT);
    await s.admin.setSuspension({ userId: 'bad', suspended: true, reason: 'abuse', durationMs: 0 });
    expect((await s.limiter.check(viaIp)).reason).toBe(Reason.REASON_SUSPENDED);
    expect((await s.limiter.checkMany([viaIp, viaIp]))[1]!.response!.reason).toBe(Reason.REASON_SUSPENDED);
  });

  it('is retired by a policy reload: a raised limit applies at once', async () => {
    const store = await RedisStore.connect({ target: { kind: 'single', url: redisUrl }, commandTimeoutMs: 2_000, connectTimeoutMs: 5_000 });
    open.push(store);
    let current: Policy = POLICIES[0]!;
    const limiter = new RateLimiter({
      store,
      policies: { get: (name) => (name === current.name ? current : undefined), list: () => [current] },
      keys: new KeySpace(uniquePrefix()),
      clock: new ManualClock(),
      allowlist: new IpAllowlist([]),
      maxBatch: 10,
      denyCache: new DenyCache({ maxMs: 10 * WINDOW, maxKeys: 100 }),
    });
    for (let i = 0; i < 3; i++) await limiter.check(check({ userId: 'reload' }));
    expect((await limiter.check(check({ userId: 'reload' }))).allowed).toBe(false);
    current = { ...current, limit: 5 };
    expect((await limiter.check(check({ userId: 'reload' }))).allowed).toBe(true);
  });

  const keys = new KeySpace('t:');
  const p = POLICIES[0]!;
  const call = (user: string) => ({
    algorithm: { name: 'sliding_log', keySuffix: 'sl' } as never,
    key: keys.rateLimit('user', user, 'p', 'sl'),
    blockKey: keys.block('user', user),
    args: { limit: 3, windowMs: WINDOW, cost: 1, burst: 3, member: 'm' },
    mode: 'consume' as const,
    failureMode: 'local' as const,
  });

  it('keeps an entry being renewed when the renewing request is answered by a failure mode (Redis unreachable)', () => {
    const cache = new DenyCache({ maxMs: 1_000, maxKeys: 10 });
    const key = call('out').key;
    cache.remember(call('out'), p, { allowed: false, blocked: false, remaining: 0, resetAfterMs: WINDOW, retryAfterMs: WINDOW }, 0);
    const renewAt = 1_000 - refreshAhead(1_000);
    expect(cache.get(key, 1, p, renewAt - 1)).toMatchObject({ allowed: false });
    expect(cache.get(key, 1, p, renewAt)).toBeUndefined();
    cache.remember(call('out'), p, { allowed: true, blocked: false, remaining: 4, resetAfterMs: 0, retryAfterMs: 0, degraded: 'local' }, renewAt);
    // Still what Redis said, to the entry's end, and not renewed again meanwhile.
    expect(cache.get(key, 1, p, renewAt + 1)).toMatchObject({ allowed: false, retryAfterMs: WINDOW - renewAt - 1 });
    expect(cache.get(key, 1, p, 999)).toMatchObject({ allowed: false });
    expect(cache.get(key, 1, p, 1_000)).toBeUndefined();
  });

  it('keeps at most its key bound, dropping the oldest', async () => {
    const cache = new DenyCache({ maxMs: WINDOW, maxKeys: 2 });
    const deny = { allowed: false, blocked: false, remaining: 0, resetAfterMs: 10, retryAfterMs: 10 };
    for (const u of ['a', 'b', 'c']) cache.remember(call(u), p, deny, 0);
    expect(cache.size).toBe(2);
    expect(cache.get(call('a').key, 1, p, 1)).toBeUndefined();
    expect(cache.get(call('c').key, 1, p, 1)).toMatchObject({ allowed: false, retryAfterMs: 9 });
    expect(cache.get(call('c').key, 2, p, 1)).toBeUndefined();
  });
});
