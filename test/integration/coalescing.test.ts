import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { commandCalls, redisWorkBetween, scriptCalls } from '../../bench/redis-info.js';
import { ALGORITHM_IMPLS } from '../../server/src/limiter/algorithms.js';
import type { Mode } from '../../server/src/limiter/algorithm.js';
import type { AlgorithmName } from '../../server/src/policy/policy.js';
import { KeySpace } from '../../server/src/store/keys.js';
import { RedisStore } from '../../server/src/store/redis-store.js';
import { limitOf, type LimitCall } from '../../server/src/store/store.js';
import { uniquePrefix } from '../support/stack.js';

const redisUrl = inject('redisUrl');
let store: RedisStore;
const keys = new KeySpace(uniquePrefix());

beforeAll(async () => {
  store = await RedisStore.connect({ target: { kind: 'single', url: redisUrl }, commandTimeoutMs: 2_000, connectTimeoutMs: 5_000 });
});
afterAll(() => store.close());


function call(user: string, algorithm: AlgorithmName, limit: number, member: string, mode: Mode = 'consume'): LimitCall {
  return {
    algorithm: ALGORITHM_IMPLS[algorithm],
    key: keys.rateLimit('user', user, 'p', ALGORITHM_IMPLS[algorithm].keySuffix),
    blockKey: keys.block('user', user),
    args: { limit, windowMs: 60_000, cost: 1, burst: limit, member },
    mode,
    failureMode: 'local',
  };
}

describe('decisions on one hash tag in one event-loop turn run as one script call', () => {
  it('250 concurrent checks of one user: 3 script calls (at most 100 decisions each), exactly the limit allowed, in arrival order', async () => {
    const before = await scriptCalls(store.client);
    const outcomes = await Promise.all(Array.from({ length: 250 }, (_, i) => limitOf(store, [call('hot', 'sliding_log', 20, `m${i}`)], 1_000)));
    expect((await scriptCalls(store.client)) - before).toBe(3);
    const allowed = outcomes.map(([o]) => o!.allowed);
    expect(allowed.filter(Boolean)).toHaveLength(20);
    expect(allowed.slice(0, 20).every(Boolean)).toBe(true);
    expect(outcomes.slice(0, 20).map(([o]) => o!.remaining)).toEqual(Array.from({ length: 20 }, (_, i) => 19 - i));
  });

  it('keeps users and algorithms apart: one script call per (hash tag, algorithm), each decided on its own key', async () => {
    const before = await scriptCalls(store.client);
    const batch = [
      ...Array.from({ length: 6 }, (_, i) => call('a', 'fixed_window', 3, `a${i}`)),
      ...Array.from({ length: 6 }, (_, i) => call('b', 'fixed_window', 5, `b${i}`)),
      ...Array.from({ length: 6 }, (_, i) => call('a', 'token_bucket', 4, `t${i}`)),
    ];
    const outcomes = await Promise.all(batch.map((c) => limitOf(store, [c], 1_000)));
    expect((await scriptCalls(store.client)) - before).toBe(3);
    expect(outcomes.map(([o]) => o!.allowed)).toEqual([
      ...[true, true, true, false, false, false],
      ...[true, true, true, true, true, false],
      ...[true, true, true, true, false, false],
    ]);
  });

  it("Redis's own EXISTS count is its count of decisions, coalesced or not (what the bench's proof relies on)", async () => {
    const client = store.client as Redis;
    const before = await commandCalls(client);
    await Promise.all(Array.from({ length: 130 }, (_, i) => limitOf(store, [call('counted', 'token_bucket', 5, `c${i}`)], 2_000)));
    await limitOf(store, [call('counted-alone', 'sliding_window', 5, 'a')], 2_000);
    // A refund is not a decision and does not check the block key.
    await limitOf(store, [call('counted-alone', 'sliding_window', 5, 'a', 'refund')], 2_000);
    const { scripts, decisions } = redisWorkBetween(before, await commandCalls(client));
    expect(decisions).toBe(131);
    expect(scripts).toBe(2 + 1 + 1);
  });

  it('answers a call with no keys at once', async () => {
    expect(await limitOf(store, [], 1_000)).toEqual([]);
  });

  it('a refund in the same turn as the consumption it gives back applies after it', async () => {
    const [consumed, refunded, next] = await Promise.all([
      limitOf(store, [call('refund', 'sliding_log', 1, 'r1')], 1_000),
      limitOf(store, [call('refund', 'sliding_log', 1, 'r1', 'refund')], 1_000),
      limitOf(store, [call('refund', 'sliding_log', 1, 'r2')], 1_000),
    ]);
    expect(consumed[0]!.allowed).toBe(true);
    expect(refunded[0]!.allowed).toBe(true);
    // The refund freed the only unit, so the third request in the same script call gets it.
    expect(next[0]!.allowed).toBe(true);
  });
});
