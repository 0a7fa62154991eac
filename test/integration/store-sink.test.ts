import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ManualClock } from '../../server/src/clock.js';
import { ALGORITHM_IMPLS } from '../../server/src/limiter/algorithms.js';
import { FailoverStore } from '../../server/src/store/failover-store.js';
import { KeySpace } from '../../server/src/store/keys.js';
import { MemoryStore } from '../../server/src/store/memory-store.js';
import { RedisStore } from '../../server/src/store/redis-store.js';
import type { LimitCall, Store, StoreOutcome } from '../../server/src/store/store.js';
import { RedisServer } from '../support/redis-server.js';
import { silentLog, uniquePrefix } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const keys = new KeySpace(uniquePrefix());
const clock = new ManualClock();

function call(user: string, member: string): LimitCall {
  const algorithm = ALGORITHM_IMPLS.sliding_log;
  return {
    algorithm,
    key: keys.rateLimit('user', user, 'p', algorithm.keySuffix),
    blockKey: keys.block('user', user),
    args: { limit: 2, windowMs: 60_000, cost: 1, burst: 2, member },
    mode: 'consume',
    failureMode: 'local',
  };
}

/**
 * Calls limit() and records what its sink is told, and whether anything was told before limit()
 * returned (the stores promise it never is: callers count a check in flight after the call).
 */
async function told(store: Store, calls: LimitCall[]): Promise<{ early: boolean; results: Array<StoreOutcome[] | unknown> }> {
  const results: Array<StoreOutcome[] | unknown> = [];
  let returned = false;
  let early = false;
  const settled = new Promise<void>((resolve) =>
    store.limit(calls, clock.now(), {
      done: (outcomes) => {
        early ||= !returned;
        results.push(outcomes);
        resolve();
      },
      failed: (err) => {
        early ||= !returned;
        results.push(err);
        resolve();
      },
    }),
  );
  returned = true;
  await settled;
  // Anything told twice would have been told by now.
  await new Promise((r) => setTimeout(r, 20));
  return { early, results };
}

let ownRedis: RedisServer;
const stores: Record<string, Store> = {};

beforeAll(async () => {
  ownRedis = await RedisServer.start();
  const redis = await RedisStore.connect({ target: { kind: 'single', url: redisUrl }, commandTimeoutMs: 2_000, connectTimeoutMs: 5_000 });
  const failing = await RedisStore.connect({ target: { kind: 'single', url: ownRedis.url }, commandTimeoutMs: 200, connectTimeoutMs: 5_000 });
  const failover = (primary: RedisStore) => new FailoverStore({ primary, local: new MemoryStore(clock), probeIntervalMs: 60_000, failureThreshold: 2, log: silentLog });
  Object.assign(stores, { memory: new MemoryStore(clock), redis, 'failover over Redis': failover(redis), 'failover with Redis gone': failover(failing) });
  await ownRedis.stop();
});

afterAll(async () => {
  await Promise.all(Object.values(stores).map((s) => s.close()));
});

describe.each(['memory', 'redis', 'failover over Redis', 'failover with Redis gone'])('the %s store', (name) => {
  it("tells its sink each call's outcomes once, never before limit() has returned, for calls of none, one and two keys", async () => {
    const store = stores[name]!;
    const user = `${name}-${Date.now()}`;
    // Three rounds: with Redis gone, the first calls fail over one by one, the last after the breaker tripped.
    for (let round = 0; round < 3; round++) {
      for (const calls of [[], [call(user, `a${round}`)], [call(user, `b${round}`), call(`${user}-2`, `c${round}`)]]) {
        const { early, results } = await told(store, calls);
        expect(early).toBe(false);
        expect(results).toHaveLength(1);
        expect(results[0]).toHaveLength(calls.length);
        for (const o of results[0] as StoreOutcome[]) expect(o.degraded).toBe(name === 'failover with Redis gone' ? 'local' : undefined);
      }
    }
  });
});
