import { FloodgateError, type CheckLimitRequest, type CheckLimitResult } from '@floodgate/client';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { limiterStack, policy, type LimiterStack } from '../support/stack.js';

const redisUrl = inject('redisUrl');

const POLICIES = [
  policy({ name: 'both', limit: 3, ipLimit: 2 }),
  policy({ name: 'ip-only', limit: 5, scopes: ['ip'] }),
  policy({ name: 'bucket', limit: 2, algorithm: 'token_bucket', scopes: ['user'] }),
];

const check = (c: Partial<CheckLimitRequest> & { policy: string }): CheckLimitRequest => ({ userId: '', ip: '', dryRun: false, recordActivity: '', sessionId: '', ...c });

/** Every path of a check: ordinary, refunded partial deny, allowlisted, suspended, dry run, activity, invalid. */
const REQUESTS: CheckLimitRequest[] = [
  check({ policy: 'both', userId: 'ann' }),
  check({ policy: 'both', userId: 'bob', ip: '192.0.2.7' }),
  check({ policy: 'both', userId: 'cat', ip: '192.0.2.7' }),
  // The IP is spent: dan's user key allowed, and is refunded.
  check({ policy: 'both', userId: 'dan', ip: '192.0.2.7' }),
  check({ policy: 'both', userId: 'eve', ip: '10.1.2.3' }),
  check({ policy: 'both', userId: 'bad', ip: '10.1.2.3' }),
  check({ policy: 'ip-only', userId: 'bad', ip: '192.0.2.9' }),
  check({ policy: 'ip-only', userId: 'ann', ip: '192.0.2.9' }),
  check({ policy: 'bucket', userId: 'ann', dryRun: true }),
  check({ policy: 'bucket', userId: 'ann', recordActivity: 'ai', sessionId: 's1' }),
  check({ policy: 'bucket', userId: 'ann', recordActivity: 'ai' }),
  check({ policy: 'bucket', userId: 'ann', recordActivity: 'ai' }),
  check({ policy: 'bucket', userId: 'bad' }),
  check({ policy: 'nope', userId: 'ann' }),
  check({ policy: 'both', userId: 'ann', cost: 9 }),
  check({ policy: 'both' }),
];

async function stack(): Promise<LimiterStack> {
  const s = await limiterStack('redis', redisUrl, { policies: POLICIES, allowlist: ['10.0.0.0/8'], maxBatch: 50 });
  await s.admin.setSuspension({ userId: 'bad', suspended: true, reason: 'test', durationMs: 0 });
  return s;
}

describe('CheckLimits answers as the same checks made one by one with CheckLimit', () => {
  const open: LimiterStack[] = [];
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  it('for every kind of check, on the same state', async () => {
    const [batched, single] = [await stack(), await stack()];
    open.push(batched, single);

    const fromBatch = await batched.limiter.checkMany(REQUESTS);
    const oneByOne: CheckLimitResult[] = [];
    for (const [i, req] of REQUESTS.entries()) {
      oneByOne.push(
        await single.limiter.check(req).then(
          (response) => ({ response, error: undefined }),
          (err: unknown) => {
            const e = FloodgateError.from(err);
            return { response: undefined, error: { code: e.codeName, message: `checks[${i}].${e.message}` } };
          },
        ),
      );
    }
    expect(fromBatch).toEqual(oneByOne);
    // The paths above all happened.
    expect(fromBatch.map((r) => r.response?.reason ?? r.error!.code)).toEqual([
      1, 1, 1, 2, 4, 3, 3, 1, 1, 1, 1, 2, 3, 'NOT_FOUND', 'INVALID_ARGUMENT', 'INVALID_ARGUMENT',
    ]);
    // And left the same state: every key's usage, and the recorded activity.
    for (const s of [batched, single]) expect((await s.tracker.stats('ann')).stats?.totalRequests).toBe(2);
    const status = async (s: LimiterStack, userId: string, ip: string) => (await s.limiter.status(userId, ip)).policies;
    for (const [userId, ip] of [['ann', '192.0.2.9'], ['bob', '192.0.2.7'], ['cat', '192.0.2.7'], ['dan', '10.1.2.3']]) {
      expect(await status(batched, userId!, ip!)).toEqual(await status(single, userId!, ip!));
    }
  });
});
