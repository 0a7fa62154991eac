import { Reason, Scope } from '@floodgate/client';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { keysWithTtl, limiterStack, policy, rawRedis, type LimiterStack, type StoreName } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const POLICIES = [
  policy({ name: 'small', limit: 5, windowMs: 10_000 }),
  policy({ name: 'iponly', limit: 3, windowMs: 10_000, scopes: ['ip'] }),
  policy({ name: 'userips', limit: 5, ipLimit: 2, windowMs: 10_000 }),
  policy({ name: 'quiet', limit: 2, windowMs: 10_000, shadow: true }),
];

// One suite, every store: the memory store and a 3-master Redis Cluster must behave exactly like Redis.
describe.each<StoreName>(['memory', 'redis', 'cluster'])('rate limiter on the %s store', (storeName) => {
  let s: LimiterStack;
  beforeEach(async () => {
    s = await limiterStack(storeName, redisUrl, { policies: POLICIES, allowlist: ['10.0.0.0/8', '2001:db8::/32'] });
  });
  afterEach(() => s.close());

  const check = (req: { userId?: string; ip?: string; cost?: number; dryRun?: boolean; policy?: string }) =>
    s.limiter.check({ policy: 'small', userId: '', ip: '', cost: undefined, dryRun: false, recordActivity: '', sessionId: '', ...req });

  it('admits exactly the limit, then denies with a retry time, and admits again once the window slides', async () => {
    const remaining: number[] = [];
    for (let i = 0; i < 5; i++) {
      const r = await check({ userId: 'alice' });
      expect(r.allowed).toBe(true);
      expect(r.reason).toBe(Reason.REASON_OK);
      remaining.push(r.statuses[0]!.remaining);
      s.clock.advance(1_000);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    const denied = await check({ userId: 'alice' });
    expect(denied.allowed).toBe(false);
    expect(denied.reason).toBe(Reason.REASON_OVER_LIMIT);
    const st = denied.statuses[0]!;
    expect(st).toMatchObject({ scope: Scope.SCOPE_USER, limit: 5, remaining: 0, windowMs: 10_000, allowed: false });
    // The first request was 5 s ago; it leaves the 10 s window in 5 s.
    expect(st.retryAfterMs).toBe(5_000);
    expect(st.resetAfterMs).toBe(9_000);
    s.clock.advance(4_999);
    expect((await check({ userId: 'alice' })).allowed).toBe(false);
    s.clock.advance(1);
    expect((await check({ userId: 'alice' })).allowed).toBe(true);
  });

  it('spends cost units, and a denied request consumes nothing', async () => {
    expect((await check({ userId: 'bob', cost: 3 })).statuses[0]!.remaining).toBe(2);
    const denied = await check({ userId: 'bob', cost: 3 });
    expect(denied.allowed).toBe(false);
    expect(denied.statuses[0]!.remaining).toBe(2);
    expect((await check({ userId: 'bob', cost: 2 })).statuses[0]!.remaining).toBe(0);
  });

  it('dry_run decides without consuming', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await check({ userId: 'carol', cost: 5, dryRun: true });
      expect(r.allowed).toBe(true);
      expect(r.statuses[0]!.remaining).toBe(0);
    }
    expect((await check({ userId: 'carol', cost: 5 })).allowed).toBe(true);
    expect((await check({ userId: 'carol', dryRun: true })).allowed).toBe(false);
  });

  it('checks user and IP together; a deny on one leaves no consumption on the other', async () => {
    const both = (userId: string) => check({ policy: 'userips', userId, ip: '203.0.113.9' });
    expect((await both('u1')).statuses.map((x) => x.remaining)).toEqual([4, 1]);
    expect((await both('u2')).allowed).toBe(true);
    const denied = await both('u1');
    expect(denied.allowed).toBe(false);
    expect(denied.statuses.map((x) => [x.scope, x.allowed])).toEqual([
      [Scope.SCOPE_USER, true],
      [Scope.SCOPE_IP, false],
    ]);
    // u1 spent one unit in all; the denied request was refunded on the user key.
    const status = await s.limiter.status('u1', '');
    const row = status.policies.find((p) => p.policy!.name === 'userips')!;
    expect(row.statuses[0]!.remaining).toBe(4);
  });

  it('limits IP-only policies by IP and refuses a user-only request for them', async () => {
    for (let i = 0; i < 3; i++) expect((await check({ policy: 'iponly', ip: '::ffff:198.51.100.7' })).allowed).toBe(true);
    // The mapped and plain forms are one address.
    expect((await check({ policy: 'iponly', ip: '198.51.100.7' })).allowed).toBe(false);
    await expect(check({ policy: 'iponly', userId: 'dave' })).rejects.toThrow(/ip is required/);
  });

  it('lets allowlisted IPs through without counting', async () => {
    for (let i = 0; i < 20; i++) {
      const r = await check({ userId: 'erin', ip: '10.1.2.3' });
      expect(r.reason).toBe(Reason.REASON_ALLOWLISTED);
      expect(r.allowed).toBe(true);
    }
    expect((await check({ policy: 'iponly', ip: '2001:db8:0:0::42' })).reason).toBe(Reason.REASON_ALLOWLISTED);
    expect((await check({ userId: 'erin' })).statuses[0]!.remaining).toBe(4);
  });

  it('keeps ids with key syntax apart', async () => {
    const ids = ['a:b', 'a%3Ab', '{a}', 'a', 'a}:rl:small', 'ü'];
    for (const id of ids) expect((await check({ userId: id, cost: 5 })).allowed).toBe(true);
    for (const id of ids) expect((await check({ userId: id })).allowed).toBe(false);
  });

  /** Writes the block key that a suspension writes. */
  const block = async (userId: string) => {
    const blockKey = s.keys.block('user', userId);
    if (storeName === 'memory') {
      (s.store as import('../../server/src/store/memory-store.js').MemoryStore).put(blockKey, '1', s.clock.now() + 60_000);
    } else {
      const r = rawRedis(storeName, redisUrl);
      await r.set(blockKey, '1', 'PX', 60_000);
      r.disconnect();
    }
  };

  it('denies a blocked subject before counting', async () => {
    await block('frank');
    const r = await check({ userId: 'frank', ip: '203.0.113.50' });
    expect(r.allowed).toBe(false);
    expect(r.reason).toBe(Reason.REASON_SUSPENDED);
    // Nothing was counted, as on the path that finds the suspension before asking any key.
    expect(r.statuses).toEqual([]);
    // The IP key was refunded.
    const ipStatus = (await s.limiter.status('', '203.0.113.50')).policies.find((p) => p.policy!.name === 'small')!;
    expect(ipStatus.statuses[0]!.remaining).toBe(5);
  });

  it('shadow policies count and decide but always allow', async () => {
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await check({ policy: 'quiet', userId: 'gina' }));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, true]);
    expect(results.map((r) => r.wouldAllow)).toEqual([true, true, false, false]);
    expect(results.every((r) => r.shadow)).toBe(true);
  });

  it("a shadow policy still denies a suspended user: a suspension is not the limit's decision", async () => {
    await block('ivan');
    const r = await check({ policy: 'quiet', userId: 'ivan' });
    expect(r).toMatchObject({ allowed: false, wouldAllow: false, shadow: true, reason: Reason.REASON_SUSPENDED });
  });

  it('reports every policy without consuming', async () => {
    await check({ userId: 'hank', cost: 2 });
    const a = await s.limiter.status('hank', '');
    const b = await s.limiter.status('hank', '');
    expect(a).toEqual(b);
    expect(a.policies.map((p) => p.policy!.name)).toEqual(POLICIES.map((p) => p.name));
    expect(a.policies[0]!.statuses[0]!.remaining).toBe(3);
  });

});

describe.each<Exclude<StoreName, 'memory'>>(['redis', 'cluster'])('rate limiter on %s', (storeName) => {
  it('puts a TTL on every key it writes', async () => {
    const s = await limiterStack(storeName, redisUrl, { policies: POLICIES });
    try {
      const check = (userId: string, ip: string) =>
        s.limiter.check({ policy: 'userips', userId, ip, cost: undefined, dryRun: false, recordActivity: '', sessionId: '' });
      for (let i = 0; i < 4; i++) await check(`ttl${i}`, `192.0.2.${i % 2}`);
      const keys = await keysWithTtl(redisUrl, s.keys.prefix, storeName);
      expect(keys.size).toBe(6);
      for (const [key, ttl] of keys) expect(ttl, key).toBeGreaterThan(0);
    } finally {
      await s.close();
    }
  });
});
