import { Scope } from '@floodgate/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RateLimiter } from '../../server/src/limiter/rate-limiter.js';
import { IpAllowlist } from '../../server/src/net/ip.js';
import { StaticPolicySource } from '../../server/src/policy/policy-source.js';
import { ALGORITHMS } from '../../server/src/policy/policy.js';
import { keysWithTtl, limiterStack, policy, type LimiterStack, type StoreName } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const WINDOW = 60_000;
// One policy per algorithm, limit 10 per minute, IP limit 4.
const POLICIES = ALGORITHMS.map((algorithm) => policy({ name: algorithm.replace('_', '-'), algorithm, limit: 10, ipLimit: 4, ipBurst: 4, windowMs: WINDOW }));

describe.each<StoreName>(['memory', 'redis'])('GetLimitStatus with all four algorithms on the %s store', (storeName) => {
  let s: LimiterStack;
  beforeAll(async () => {
    s = await limiterStack(storeName, redisUrl, { policies: POLICIES });
    // Start at a window boundary plus 15 s, so the fixed and counter windows are predictable.
    s.clock.set(Math.ceil(s.clock.now() / WINDOW) * WINDOW + 15_000);
  });
  afterAll(() => s.close());

  const check = (policyName: string, userId: string, ip: string, cost: number) =>
    s.limiter.check({ policy: policyName, userId, ip, cost, dryRun: false, recordActivity: '', sessionId: '' });

  it('reports the full quota and nothing to wait for on keys never used', async () => {
    const status = await s.limiter.status('fresh', '192.0.2.10');
    expect(status.policies.map((p) => [p.policy!.name, p.policy!.algorithm, p.policy!.burst, p.policy!.ipBurst])).toEqual([
      ['sliding-log', 'sliding_log', 0, 0],
      ['sliding-window', 'sliding_window', 0, 0],
      ['token-bucket', 'token_bucket', 10, 4],
      ['fixed-window', 'fixed_window', 0, 0],
    ]);
    for (const row of status.policies) {
      expect(row.statuses.map((st) => [st.scope, st.limit, st.remaining, st.resetAfterMs, st.retryAfterMs, st.allowed])).toEqual([
        [Scope.SCOPE_USER, 10, 10, 0, 0, true],
        [Scope.SCOPE_IP, 4, 4, 0, 0, true],
      ]);
    }
  });

  it('reports each algorithm’s usage after consumption, the same on every call, consuming nothing', async () => {
    for (const p of POLICIES) await check(p.name, 'used', '192.0.2.20', 3);
    s.clock.advance(6_000);
    const a = await s.limiter.status('used', '192.0.2.20');
    const b = await s.limiter.status('used', '192.0.2.20');
    expect(b).toEqual(a);
    const byName = Object.fromEntries(a.policies.map((row) => [row.policy!.name, row.statuses.map((st) => [st.remaining, st.resetAfterMs])]));
    expect(byName).toEqual({
      // 3 units that leave the log 60 s after they came, 6 s ago.
      'sliding-log': [
        [7, 54_000],
        [1, 54_000],
      ],
      // 3 units in the current window (started 21 s ago); the counter forgets them one window after it ends.
      'sliding-window': [
        [7, 99_000],
        [1, 99_000],
      ],
      // 3 tokens taken 6 s ago, refilled at 10 (user) and 4 (IP) per minute: 1 and 0.4 back already.
      'token-bucket': [
        [8, 12_000],
        [1, 39_000],
      ],
      // 3 units in the window that ends in 39 s.
      'fixed-window': [
        [7, 39_000],
        [1, 39_000],
      ],
    });
    // Checks still see the usage the status reported.
    expect((await check('fixed-window', 'used', '192.0.2.20', 1)).statuses.map((st) => st.remaining)).toEqual([6, 0]);
  });

  it('reports a key used up exactly as not allowing the next request, with the time until it would', async () => {
    for (const p of POLICIES) await check(p.name, 'spent', '192.0.2.40', 4);
    for (const row of (await s.limiter.status('spent', '192.0.2.40')).policies) {
      const [user, ip] = row.statuses;
      expect([user!.remaining, user!.allowed, user!.retryAfterMs], row.policy!.name).toEqual([6, true, 0]);
      expect([ip!.remaining, ip!.allowed], row.policy!.name).toEqual([0, false]);
      expect(ip!.retryAfterMs, row.policy!.name).toBeGreaterThan(0);
      // The next check agrees with the status.
      const next = await s.limiter.check({ policy: row.policy!.name, userId: 'spent', ip: '192.0.2.40', cost: 1, dryRun: true, recordActivity: '', sessionId: '' });
      expect([next.allowed, next.statuses[1]!.retryAfterMs], row.policy!.name).toEqual([false, ip!.retryAfterMs]);
    }
  });

  it('says when the user is suspended, and only then', async () => {
    expect((await s.limiter.status('free', '192.0.2.41')).suspended).toBe(false);
    await s.admin.setSuspension({ userId: 'banned', suspended: true, reason: 'test', durationMs: 0 });
    const st = await s.limiter.status('banned', '192.0.2.41');
    expect(st.suspended).toBe(true);
    expect(st.policies.every((p) => p.statuses[0]!.allowed === false)).toBe(true);
    expect((await s.limiter.status('', '192.0.2.41')).suspended).toBe(false);
  });

  it('reports an emptied bucket as remaining 0, with the time until it is full again', async () => {
    await check('token-bucket', 'drained', '192.0.2.30', 4);
    const row = (await s.limiter.status('drained', '192.0.2.30')).policies.find((p) => p.policy!.name === 'token-bucket')!;
    expect(row.statuses.map((st) => [st.remaining, st.resetAfterMs])).toEqual([
      [6, 24_000],
      [0, 60_000],
    ]);
  });
});

describe('a token bucket policy', () => {
  it('refuses a cost above the bucket size of any key it checks, naming the field', async () => {
    const p = policy({ name: 'tb', algorithm: 'token_bucket', limit: 10, burst: 6, ipLimit: 10, ipBurst: 3 });
    const s = await limiterStack('memory', redisUrl, { policies: [p] });
    try {
      const check = (cost: number, ip: string) => s.limiter.check({ policy: 'tb', userId: 'u', ip, cost, dryRun: false, recordActivity: '', sessionId: '' });
      expect((await check(6, '')).allowed).toBe(true);
      await expect(check(7, '')).rejects.toThrow('cost: 7 exceeds the burst 6 of policy "tb"');
      await expect(check(4, '192.0.2.60')).rejects.toThrow('cost: 4 exceeds the burst 3 of policy "tb"');
    } finally {
      await s.close();
    }
  });
});

describe.each<StoreName>(['memory', 'redis'])('limits lowered by a reload, on the %s store', (storeName) => {
  it('deny keys already over the new limit and report 0 remaining, for every algorithm', async () => {
    const s = await limiterStack(storeName, redisUrl, { policies: POLICIES });
    try {
      for (const p of POLICIES) await s.limiter.check({ policy: p.name, userId: 'over', ip: '192.0.2.50', cost: 4, dryRun: false, recordActivity: '', sessionId: '' });
      // The same keys under policies with a third of the limits, as after a reload.
      const lowered = POLICIES.map((p) => ({ ...p, limit: 3, ipLimit: 1, burst: 3, ipBurst: 1 }));
      const after = new RateLimiter({ ...s, policies: new StaticPolicySource(lowered), allowlist: new IpAllowlist([]), maxBatch: 10 });
      for (const row of (await after.status('over', '192.0.2.50')).policies) {
        expect(row.statuses.map((st) => [st.remaining, st.allowed]), row.policy!.name).toEqual([
          [0, false],
          [0, false],
        ]);
      }
      for (const p of lowered) {
        const r = await after.check({ policy: p.name, userId: 'over', ip: '192.0.2.50', cost: 1, dryRun: false, recordActivity: '', sessionId: '' });
        expect(r.allowed, p.name).toBe(false);
        expect(r.statuses.every((st) => st.retryAfterMs > 0)).toBe(true);
      }
    } finally {
      await s.close();
    }
  });
});

describe('rate-limit keys on Redis', () => {
  it('outlive the logical time they are needed for: a count made in a window’s last ms is still there 50 ms later', async () => {
    const s = await limiterStack('redis', redisUrl, { policies: POLICIES });
    try {
      s.clock.set(Math.ceil(s.clock.now() / WINDOW) * WINDOW + WINDOW - 1);
      for (const p of POLICIES) await s.limiter.check({ policy: p.name, userId: 'edge', ip: '', cost: 10, dryRun: false, recordActivity: '', sessionId: '' });
      await new Promise((r) => setTimeout(r, 50));
      for (const p of POLICIES) {
        const r = await s.limiter.check({ policy: p.name, userId: 'edge', ip: '', cost: 1, dryRun: false, recordActivity: '', sessionId: '' });
        expect(r.allowed, p.name).toBe(false);
      }
    } finally {
      await s.close();
    }
  });

  it('leaves no key without a TTL, whatever the algorithm', async () => {
    const s = await limiterStack('redis', redisUrl, { policies: POLICIES });
    try {
      for (const p of POLICIES) {
        await s.limiter.check({ policy: p.name, userId: 'ttl', ip: '192.0.2.40', cost: 2, dryRun: false, recordActivity: '', sessionId: '' });
        await s.limiter.status('ttl-peek', '192.0.2.41');
      }
      const keys = await keysWithTtl(redisUrl, s.keys.prefix);
      expect(keys.size).toBe(8);
      for (const [key, ttl] of keys) expect(ttl, key).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });
});
