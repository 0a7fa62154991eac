import { FloodgateError } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { RedisStore } from '../../server/src/store/redis-store.js';
import { grpcStack, policy } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const MAX_BATCH = 500;
let stack: Awaited<ReturnType<typeof grpcStack>>;

beforeAll(async () => {
  stack = await grpcStack('redis', redisUrl, {
    maxBatch: MAX_BATCH,
    policies: [
      policy({ name: 'wide', limit: 5, ipLimit: 1_000 }),
      policy({ name: 'narrow-ip', limit: 5, ipLimit: 1, ipBurst: 1, algorithm: 'token_bucket' }),
      policy({ name: 'fixed', limit: 5, algorithm: 'fixed_window', scopes: ['user'] }),
      policy({ name: 'counter', limit: 5, algorithm: 'sliding_window', scopes: ['user'] }),
    ],
  });
});
afterAll(() => stack.close());

/**
 * Counts the writes the Redis client's socket makes to the network while `work` runs (one per
 * round trip): commands issued together are buffered by a corked socket and leave in one writev.
 */
async function redisWrites(work: () => Promise<unknown>): Promise<number> {
  const socket = ((stack.store as RedisStore).client as Redis).stream as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  const originals = { _write: socket._write, _writev: socket._writev };
  let writes = 0;
  for (const name of ['_write', '_writev'] as const) {
    socket[name] = function (this: unknown, ...args: unknown[]) {
      writes++;
      return originals[name].apply(this, args);
    };
  }
  try {
    await work();
  } finally {
    Object.assign(socket, originals);
  }
  return writes;
}

async function scriptCalls(): Promise<number> {
  const info = await ((stack.store as RedisStore).client as Redis).info('commandstats');
  return Number(/cmdstat_evalsha:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

describe('CheckLimits against real Redis', () => {
  it('sends a whole batch to Redis in one round trip, not one per check', async () => {
    const checks = Array.from({ length: 400 }, (_, i) => ({ policy: ['wide', 'fixed', 'counter'][i % 3]!, userId: `batch-${i}`, ip: '192.0.2.1' }));
    const before = await scriptCalls();
    let results: Awaited<ReturnType<typeof stack.client.checkLimits>>['results'] = [];
    const writes = await redisWrites(async () => {
      results = (await stack.client.checkLimits({ checks })).results;
    });
    expect(results).toHaveLength(400);
    expect(results.every((r) => r.response?.allowed)).toBe(true);
    // 'wide' checks two keys (user and IP), the others one; each user is its own hash tag, and
    // the 134 checks of the shared IP run coalesced, at most 100 per script call.
    expect((await scriptCalls()) - before).toBe(400 + Math.ceil(134 / 100));
    expect(writes).toBe(1);
  });

  it('the same checks one call at a time take one round trip each (what the batch saves)', async () => {
    const writes = await redisWrites(async () => {
      for (let i = 0; i < 20; i++) await stack.client.checkLimit({ policy: 'fixed', userId: `single-${i}` });
    });
    expect(writes).toBe(20);
  });

  it('refunds the partial denials of a batch in one more round trip', async () => {
    const checks = Array.from({ length: 50 }, (_, i) => ({ policy: 'narrow-ip', userId: `refund-${i}`, ip: '198.51.100.77' }));
    let results: Awaited<ReturnType<typeof stack.client.checkLimits>>['results'] = [];
    const writes = await redisWrites(async () => {
      results = (await stack.client.checkLimits({ checks })).results;
    });
    expect(results.filter((r) => r.response!.allowed)).toHaveLength(1);
    expect(writes).toBe(2);
    // Every denied user key was refunded: each user still has the whole limit.
    const status = await stack.client.getLimitStatus({ userId: 'refund-7' });
    const row = status.policies.find((p) => p.policy!.name === 'narrow-ip')!;
    expect(row.statuses[0]!.remaining).toBe(results[7]!.response!.allowed ? 4 : 5);
  });

  it('answers an item the client or the server refuses with its own error, and decides the others', async () => {
    const { results } = await stack.client.checkLimits({
      checks: [
        { policy: 'fixed', userId: 'mixed-0' },
        { policy: 'fixed', userId: 'mixed-1', cost: 0 },
        { policy: 'nope', userId: 'mixed-2' },
        null as never,
        { policy: 'fixed', userId: 'mixed-4', cost: -1 },
        { policy: 'fixed', userId: 'mixed-5', cost: 6 },
        { policy: 'fixed', userId: 'mixed-6', cost: 2 },
      ],
    });
    const cost = (i: number) => expect.stringMatching(new RegExp(`^checks\\[${i}\\]\\.cost: must be a whole number from 1 to 4294967295`));
    expect(results.map((r) => r.error ?? { allowed: r.response!.allowed, remaining: r.response!.remaining })).toEqual([
      { allowed: true, remaining: 4 },
      { code: 'INVALID_ARGUMENT', message: cost(1) },
      { code: 'NOT_FOUND', message: 'checks[2].policy: no policy named "nope"' },
      { code: 'INVALID_ARGUMENT', message: 'checks[3]: must be an object' },
      { code: 'INVALID_ARGUMENT', message: cost(4) },
      { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^checks\[5\]\.cost: /) },
      { allowed: true, remaining: 3 },
    ]);
  });

  it(`accepts ${MAX_BATCH} checks and refuses more with INVALID_ARGUMENT naming the bound`, async () => {
    const checks = (n: number) => Array.from({ length: n }, (_, i) => ({ policy: 'fixed', userId: `bound-${i}` }));
    expect((await stack.client.checkLimits({ checks: checks(MAX_BATCH) })).results).toHaveLength(MAX_BATCH);
    const err = await stack.client.checkLimits({ checks: checks(MAX_BATCH + 1) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FloodgateError);
    expect((err as FloodgateError).code).toBe(status.INVALID_ARGUMENT);
    expect((err as FloodgateError).message).toBe(`checks: holds ${MAX_BATCH + 1} checks; at most ${MAX_BATCH} are allowed`);
    const empty = await stack.client.checkLimits({ checks: [] }).catch((e: unknown) => e);
    expect((empty as FloodgateError).code).toBe(status.INVALID_ARGUMENT);
  });
});
