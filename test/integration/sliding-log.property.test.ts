import fc from 'fast-check';
import { describe, expect, inject, it } from 'vitest';
import { limiterStack, policy, type StoreName } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const LIMIT = 7;
const WINDOW = 1_000;

/** The obvious model: a list of admitted (time, cost) events; an event counts while now - t < window. */
class ReferenceLog {
  private events: Array<{ t: number; cost: number }> = [];
  used(now: number): number {
    return this.events.filter((e) => now - e.t < WINDOW).reduce((n, e) => n + e.cost, 0);
  }
  decide(now: number, cost: number, dryRun: boolean): { allowed: boolean; remaining: number; retryAfterMs: number } {
    const used = this.used(now);
    if (used + cost <= LIMIT) {
      if (!dryRun) this.events.push({ t: now, cost });
      return { allowed: true, remaining: LIMIT - used - cost, retryAfterMs: 0 };
    }
    // Earliest moment at which enough units have left the window.
    let retry = 0;
    for (let wait = 1; wait <= WINDOW; wait++) {
      if (this.used(now + wait) + cost <= LIMIT) {
        retry = wait;
        break;
      }
    }
    return { allowed: false, remaining: LIMIT - used, retryAfterMs: retry };
  }
}

const step = fc.record({
  advance: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 400 }), fc.constantFrom(WINDOW - 1, WINDOW, WINDOW + 1)),
  cost: fc.integer({ min: 1, max: LIMIT }),
  dryRun: fc.boolean(),
});

describe.each<StoreName>(['memory', 'redis'])('sliding log on the %s store matches the reference model', (storeName) => {
  it('for random sequences of time steps, costs and dry runs', async () => {
    const s = await limiterStack(storeName, redisUrl, { policies: [policy({ name: 'p', limit: LIMIT, windowMs: WINDOW, scopes: ['user'] })] });
    let run = 0;
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40 }), async (steps) => {
          const userId = `prop-${run++}`;
          const model = new ReferenceLog();
          for (const { advance, cost, dryRun } of steps) {
            s.clock.advance(advance);
            const got = await s.limiter.check({ policy: 'p', userId, ip: '', cost, dryRun, recordActivity: '', sessionId: '' });
            const want = model.decide(s.clock.now(), cost, dryRun);
            const st = got.statuses[0]!;
            expect({ allowed: got.allowed, remaining: st.remaining, retryAfterMs: st.retryAfterMs }).toEqual(want);
          }
        }),
        { numRuns: 60 },
      );
    } finally {
      await s.close();
    }
  });
});
