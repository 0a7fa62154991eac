import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { commandCalls } from '../../bench/redis-info.js';
import { scriptOf, type Mode } from '../../server/src/limiter/algorithm.js';
import { ALGORITHM_IMPLS } from '../../server/src/limiter/algorithms.js';
import type { AlgorithmName } from '../../server/src/policy/policy.js';
import { Coalescer, type Settled } from '../../server/src/store/coalescer.js';
import { KeySpace } from '../../server/src/store/keys.js';
import { RedisScript } from '../../server/src/store/redis-script.js';
import { RedisStore } from '../../server/src/store/redis-store.js';
import { limitOf, type LimitCall } from '../../server/src/store/store.js';
import { RedisServer } from '../support/redis-server.js';
import { uniquePrefix } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const WINDOW = 1_000;
let store: RedisStore;
const keys = new KeySpace(uniquePrefix());
let runs = 0;

beforeAll(async () => {
  store = await RedisStore.connect({ target: { kind: 'single', url: redisUrl }, commandTimeoutMs: 2_000, connectTimeoutMs: 5_000 });
});
afterAll(() => store.close());

interface Step {
  dt: number;
  mode: Mode;
  cost: number;
  /** For a refund: which earlier consumption (by index, modulo) it gives back. */
  of: number;
}

const step = fc.record({
  // A little back in time too: the clock of another replica.
  dt: fc.integer({ min: -60, max: 450 }),
  mode: fc.constantFrom<Mode>('consume', 'consume', 'consume', 'peek', 'refund'),
  // At most the limit, as the server enforces.
  cost: fc.integer({ min: 1, max: 3 }),
  of: fc.nat(),
});

/** The coalescer's outcomes of `calls`. */
function decided(coalescer: Coalescer, calls: LimitCall[], now: number): Promise<Settled[]> {
  return new Promise((resolve) => coalescer.decideEach(calls, now, { done: resolve }));
}

/** What Redis holds under a key: its value (any type) and whether it expires. */
async function held(key: string): Promise<{ value: unknown; ttl: number }> {
  const type = await store.client.type(key);
  const value =
    type === 'hash' ? await store.client.hgetall(key) : type === 'zset' ? await store.client.zrange(key, 0, -1, 'WITHSCORES') : type;
  return { value, ttl: await store.client.pttl(key) };
}

describe('decisions on one key in one script call', () => {
  it.each(Object.keys(ALGORITHM_IMPLS) as AlgorithmName[])(
    '%s: answer and leave in Redis what the same decisions one script call each do (state, TTL)',
    async (name) => {
      const algorithm = ALGORITHM_IMPLS[name];
      const scripts = [false, true].map((many) => new RedisScript(store.client, `test_${name}`, scriptOf(algorithm, many)));
      let scriptCalls = 0;
      const coalescer = new Coalescer((_, ks, decisions, many) => (scriptCalls++, scripts[Number(many)]!.run<number[]>(ks, [decisions])), 1_000);

      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 8 }), fc.array(step, { maxLength: 12 }), fc.array(step, { minLength: 2, maxLength: 60 }), async (limit, history, batch) => {
          const run = runs++;
          const user = (who: string) => keys.rateLimit('user', `${who}${run}`, 'p', algorithm.keySuffix);
          const [together, alone] = [user('together'), user('alone')];
          let now = 1_000_000;
          const calls = (key: string, steps: Step[], first: number) =>
            steps.map((s, i): [LimitCall, number] => {
              now = Math.max(0, now + s.dt);
              const member = s.mode === 'refund' ? `m${(first + i === 0 ? 0 : s.of % (first + i))}` : `m${first + i}`;
              const args = { limit, windowMs: WINDOW, cost: Math.min(s.cost, limit), burst: limit + 2, member };
              return [{ algorithm, key, blockKey: `${key}:b`, args, mode: s.mode, failureMode: 'local' }, now];
            });
          // The same history on both keys, then the batch: on one key in one script call, on the other one call each.
          for (const key of [together, alone]) {
            now = 1_000_000;
            for (const [c, at] of calls(key, history, 0)) await decided(coalescer, [c], at);
          }
          const start = now;
          const joint = calls(together, batch, history.length);
          const before = scriptCalls;
          const jointly = await Promise.all(joint.map(([c, at]) => decided(coalescer, [c], at)));
          expect(scriptCalls - before).toBe(1);
          now = start;
          const singly = [];
          for (const [c, at] of calls(alone, batch, history.length)) singly.push(await decided(coalescer, [c], at));
          expect(jointly).toEqual(singly);

          const [a, b] = [await held(together), await held(alone)];
          expect(a.value).toEqual(b.value);
          // Both TTLs derive from the same decision times; Redis counts them from slightly different moments.
          expect(a.ttl === -1 || b.ttl === -1).toBe(false);
          expect(Math.sign(a.ttl)).toBe(Math.sign(b.ttl));
          expect(Math.abs(a.ttl - b.ttl)).toBeLessThan(500);
        }),
        { numRuns: 40 },
      );
    },
  );
});

describe('a Redis store that connects', () => {
  it('loads both scripts of every algorithm, so that no first call costs a NOSCRIPT round trip', async () => {
    // A Redis of its own: one that other tests' stores have already loaded scripts into proves nothing.
    const redis = await RedisServer.start();
    const fresh = await RedisStore.connect({ target: { kind: 'single', url: redis.url }, commandTimeoutMs: 2_000, connectTimeoutMs: 5_000 });
    try {
      const before = await commandCalls(fresh.client);
      for (const algorithm of Object.values(ALGORITHM_IMPLS)) {
        const call = (member: string): LimitCall => ({
          algorithm,
          key: keys.rateLimit('user', 'first', 'p', algorithm.keySuffix),
          blockKey: keys.block('user', 'first'),
          args: { limit: 5, windowMs: WINDOW, cost: 1, burst: 5, member },
          mode: 'consume',
          failureMode: 'local',
        });
        await limitOf(fresh, [call('alone')], 1_000_000);
        // Two decisions on one key in one turn: the variant for many.
        await Promise.all([limitOf(fresh, [call('a')], 1_000_000), limitOf(fresh, [call('b')], 1_000_000)]);
      }
      const after = await commandCalls(fresh.client);
      expect((after.evalsha ?? 0) - (before.evalsha ?? 0)).toBe(2 * Object.keys(ALGORITHM_IMPLS).length);
      expect((after.eval ?? 0) - (before.eval ?? 0)).toBe(0);
    } finally {
      await fresh.close();
      await redis.stop();
    }
  });
});
