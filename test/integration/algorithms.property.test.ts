import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import type { AlgorithmName } from '../../server/src/policy/policy.js';
import { limiterStack, policy, type StoreName } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const LIMIT = 7;
const IP_LIMIT = 4;
const BURST = 10;
const WINDOW = 1_000;

interface Event {
  t: number;
  cost: number;
}

/**
 * What each algorithm means, stated over the plain list of admitted events: the load at `now`
 * and the capacity, in the same units (`scale` per request unit). Everything else (allow,
 * remaining, retry, reset) is derived from these the obvious way, by searching forward in time.
 */
interface Meaning {
  scale: number;
  capacity(limit: number): number;
  load(events: readonly Event[], now: number, limit: number): number;
}

const sum = (events: readonly Event[], from: number, to: number) =>
  events.filter((e) => e.t >= from && e.t < to).reduce((n, e) => n + e.cost, 0);
const windowStart = (now: number) => Math.floor(now / WINDOW) * WINDOW;

const MEANINGS: Record<AlgorithmName, Meaning> = {
  // Every unit counts for exactly one window.
  sliding_log: { scale: 1, capacity: (l) => l, load: (ev, now) => sum(ev, now - WINDOW + 1, now + 1) },
  // Only the aligned window holding `now` counts.
  fixed_window: { scale: 1, capacity: (l) => l, load: (ev, now) => sum(ev, windowStart(now), now + 1) },
  // The previous aligned window, weighted by the share of it still inside the sliding window.
  sliding_window: {
    scale: WINDOW,
    capacity: (l) => l * WINDOW,
    load: (ev, now) => {
      const ws = windowStart(now);
      return sum(ev, ws - WINDOW, ws) * (WINDOW - (now - ws)) + sum(ev, ws, now + 1) * WINDOW;
    },
  },
  // A bucket of BURST tokens (capacity, whatever the limit) that drains at `limit` per window.
  token_bucket: {
    scale: WINDOW,
    capacity: () => BURST * WINDOW,
    load: (ev, now, limit) => {
      let level = 0;
      let last = -Infinity;
      for (const e of ev) {
        level = Math.max(0, level - (e.t - last) * limit) + e.cost * WINDOW;
        last = e.t;
      }
      return Math.max(0, level - (now - last) * limit);
    },
  },
};

/** One key of the reference model. */
class ReferenceKey {
  readonly events: Event[] = [];
  constructor(
    private readonly m: Meaning,
    private readonly limit: number,
  ) {}

  private fits(now: number, cost: number): boolean {
    return this.m.load(this.events, now, this.limit) + cost * this.m.scale <= this.m.capacity(this.limit);
  }

  private firstWait(from: number, ok: (wait: number) => boolean): number {
    for (let wait = from; wait <= 3 * WINDOW; wait++) if (ok(wait)) return wait;
    throw new Error('reference model: no wait found');
  }

  decide(now: number, cost: number) {
    const load = this.m.load(this.events, now, this.limit);
    const allowed = this.fits(now, cost);
    const free = this.m.capacity(this.limit) - load - (allowed ? cost * this.m.scale : 0);
    return {
      allowed,
      remaining: Math.max(0, Math.floor(free / this.m.scale)),
      retryAfterMs: allowed ? 0 : this.firstWait(1, (w) => this.fits(now + w, cost)),
    };
  }

  /** Time until the key holds nothing, assuming nothing more is admitted. */
  resetAfter(now: number): number {
    return this.firstWait(0, (w) => this.m.load(this.events, now + w, this.limit) === 0);
  }
}

const step = fc.record({
  advance: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 }), fc.constantFrom(WINDOW - 1, WINDOW, WINDOW + 1, 2 * WINDOW)),
  cost: fc.integer({ min: 1, max: IP_LIMIT }),
  dryRun: fc.boolean(),
  withIp: fc.boolean(),
  // The same request again at once, as a client hammering a denied key does.
  repeat: fc.constantFrom(1, 1, 2, 3),
});

const ALGORITHMS = Object.keys(MEANINGS) as AlgorithmName[];
const CASES = ALGORITHMS.flatMap((a) => (['memory', 'redis', 'cluster'] as StoreName[]).map((s) => [a, s] as const));

// Requests with an IP are checked against both keys: a deny on one must refund the other exactly.
/**
 * Random request sequences on one user (and sometimes an IP) against the reference model. With
 * the deny cache, answers repeated from it must deny exactly when the model does, with the same
 * retry time; only the remaining count may be the one of the deny they repeat (never more).
 */
async function matchesModel(algorithm: AlgorithmName, storeName: StoreName, denyCacheMs?: number): Promise<number> {
  const p = policy({ name: 'p', algorithm, limit: LIMIT, ipLimit: IP_LIMIT, burst: BURST, windowMs: WINDOW, scopes: ['user', 'ip'] });
  const s = await limiterStack(storeName, redisUrl, { policies: [p], ...(denyCacheMs ? { denyCacheMs } : {}) });
  let run = 0;
  let fromCache = 0;
  try {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
        run++;
        const userId = `prop-${run}`;
        const ip = `10.${run >> 16}.${(run >> 8) & 255}.${run & 255}`;
        s.clock.set(Date.UTC(2026, 0, 1) + run * 100 * WINDOW);
        const user = new ReferenceKey(MEANINGS[algorithm], LIMIT);
        const ipKey = new ReferenceKey(MEANINGS[algorithm], IP_LIMIT);
        for (const { advance, cost, dryRun, withIp } of steps.flatMap(({ repeat, ...step }) => [step, ...Array.from({ length: repeat - 1 }, () => ({ ...step, advance: 0 }))])) {
          s.clock.advance(advance);
          const now = s.clock.now();
          const hitsBefore = s.denyCache?.hits ?? 0;
          const got = await s.limiter.check({ policy: 'p', userId, ip: withIp ? ip : '', cost, dryRun, recordActivity: '', sessionId: '' });
          const hit = (s.denyCache?.hits ?? 0) > hitsBefore;
          if (hit) fromCache++;
          const keys = withIp ? [user, ipKey] : [user];
          const want = keys.map((k) => k.decide(now, cost));
          const allowed = want.every((w) => w.allowed);
          if (allowed && !dryRun) for (const k of keys) k.events.push({ t: now, cost });
          expect(got.allowed).toBe(allowed);
          // A key that allowed while the other denied was refunded: it reports its state as before.
          const expected = want.map((w) => (w.allowed && !allowed ? { ...w, remaining: w.remaining + cost } : w));
          const statuses = got.statuses.map((st) => ({ allowed: st.allowed, remaining: st.remaining, retryAfterMs: st.retryAfterMs }));
          if (hit) {
            expect(statuses.map(({ allowed, retryAfterMs }) => ({ allowed, retryAfterMs }))).toEqual(expected.map(({ allowed, retryAfterMs }) => ({ allowed, retryAfterMs })));
            statuses.forEach((st, i) => expect(st.remaining).toBeLessThanOrEqual(expected[i]!.remaining));
            continue;
          }
          expect(statuses).toEqual(expected);
          // reset_after_ms describes the key as it is now, so compare it where nothing was refunded.
          got.statuses.forEach((st, i) => {
            if (allowed || !want[i]!.allowed) expect(st.resetAfterMs, `reset of key ${i}`).toBe(keys[i]!.resetAfter(now));
          });
        }
      }),
      { numRuns: 100 },
    );
  } finally {
    await s.close();
  }
  return fromCache;
}

describe.each(CASES)('%s on the %s store matches the reference model', (algorithm, storeName) => {
  it('for random sequences of time steps, costs, dry runs and user+IP requests', async () => {
    await matchesModel(algorithm, storeName);
  });
});

describe.each(ALGORITHMS)('%s with the deny cache decides as the reference model', (algorithm) => {
  it('denies from the cache exactly when Redis would, with the same retry time', async () => {
    // Longer than any retry time here, so every cached deny lasts until its retry time.
    expect(await matchesModel(algorithm, 'redis', 10 * WINDOW)).toBeGreaterThan(5);
  });
});

// The error bound documented in docs/policies.md, at its worst case: the whole previous window's
// quota arrives in its last millisecond, and the weighting assumes it was spread evenly.
describe.each<StoreName>(['memory', 'redis'])('the sliding window counter on the %s store', (storeName) => {
  it('admits at most 2 × limit - 1 in one window-long interval, and at most the limit per aligned window', async () => {
    const s = await limiterStack(storeName, redisUrl, { policies: [policy({ name: 'c', algorithm: 'sliding_window', limit: LIMIT, windowMs: WINDOW, scopes: ['user'] })] });
    try {
      const check = () => s.limiter.check({ policy: 'c', userId: 'edge', ip: '', cost: 1, dryRun: false, recordActivity: '', sessionId: '' });
      const admitted = async () => {
        let n = 0;
        for (let i = 0; i < 2 * LIMIT; i++) if ((await check()).allowed) n++;
        return n;
      };
      const ws = Math.ceil(s.clock.now() / WINDOW) * WINDOW + WINDOW;
      s.clock.set(ws - 1);
      expect(await admitted()).toBe(LIMIT);
      // WINDOW - 1 ms later, the interval (ws - 2, ws + WINDOW - 2] still holds those LIMIT units.
      s.clock.set(ws + WINDOW - 2);
      expect(await admitted()).toBe(LIMIT - 1);
    } finally {
      await s.close();
    }
  });
});
