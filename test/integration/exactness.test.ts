import { describe, expect, inject, it } from 'vitest';
import { ManualClock } from '../../server/src/clock.js';
import { RateLimiter } from '../../server/src/limiter/rate-limiter.js';
import { IpAllowlist } from '../../server/src/net/ip.js';
import { StaticPolicySource } from '../../server/src/policy/policy-source.js';
import { ALGORITHMS } from '../../server/src/policy/policy.js';
import { KeySpace } from '../../server/src/store/keys.js';
import { openStore, policy, uniquePrefix } from '../support/stack.js';

const redisUrl = inject('redisUrl');

const CASES = ALGORITHMS.flatMap((a) => (['redis', 'cluster'] as const).map((s) => [a, s] as const));

describe.each(CASES)('%s on %s shared by three limiters', (algorithm, storeName) => {
  it('admits exactly the limit among 240 concurrent checks for one user and one IP', async () => {
    const policies = new StaticPolicySource([policy({ name: 'p', algorithm, limit: 20, ipLimit: 30, ipBurst: 30, windowMs: 60_000 })]);
    const keys = new KeySpace(uniquePrefix());
    const clock = new ManualClock();
    // Each limiter has its own Redis connection, like separate replicas.
    const stores = await Promise.all([0, 1, 2].map(() => openStore(storeName, clock, redisUrl)));
    const limiters = stores.map((store) => new RateLimiter({ store, policies, keys, clock, allowlist: new IpAllowlist([]), maxBatch: 10 }));
    try {
      const results = await Promise.all(
        Array.from({ length: 240 }, (_, i) =>
          limiters[i % 3]!.check({ policy: 'p', userId: 'crowd', ip: '203.0.113.200', cost: 1, dryRun: false, recordActivity: '', sessionId: '' }),
        ),
      );
      expect(results.filter((r) => r.allowed)).toHaveLength(20);
      // The IP key holds exactly what the admitted requests spent: every partial deny was refunded.
      const status = await limiters[0]!.status('', '203.0.113.200');
      expect(status.policies[0]!.statuses[0]!.remaining).toBe(10);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });
});
