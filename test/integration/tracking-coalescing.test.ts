import fc from 'fast-check';
import { FloodgateError } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import { describe, expect, inject, it } from 'vitest';
import type { ActivityInput } from '../../server/src/tracking/tracker.js';
import { DAY_MS, MINUTE_MS, utcDate } from '../../server/src/tracking/tracking-store.js';
import { limiterStack, rawRedis, type LimiterStack, type StoreName } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const USERS = ['ann', 'bob', 'cy', 'di'];
const ACTIVITIES = ['ai', 'tts', 'login'];
const SESSIONS = ['tab-1', 'tab-2'];

/** One turn: the clock moves, then events are recorded all at once (one event-loop turn). */
interface Turn {
  advanceMs: number;
  events: Array<Omit<ActivityInput, 'atMs'> & { agoMs: number }>;
}

const turn = fc.record({
  // Within a minute, across minutes and the 5-minute concurrency window, past the 1 h session gap.
  advanceMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 90_000 }), fc.integer({ min: 4 * MINUTE_MS, max: 2 * 3_600_000 })),
  events: fc.array(
    fc.record({
      userId: fc.constantFrom(...USERS),
      activity: fc.constantFrom(...ACTIVITIES),
      ip: fc.constantFrom('', '203.0.113.9', '2001:db8::1'),
      sessionId: fc.constantFrom('', '', ...SESSIONS),
      // Some events arrive late (an explicit at_ms in the past): earlier than the user's last.
      agoMs: fc.oneof(fc.constant(0), fc.constant(0), fc.integer({ min: 1, max: 3 * MINUTE_MS })),
    }),
    { minLength: 1, maxLength: 40 },
  ),
});

async function play(stack: LimiterStack, turns: readonly Turn[], together: boolean): Promise<void> {
  for (const t of turns) {
    stack.clock.advance(t.advanceMs);
    const events = t.events.map(({ agoMs, ...e }) => stack.tracker.event({ ...e, atMs: agoMs ? stack.clock.now() - agoMs : 0 }));
    if (together) await Promise.all(events.map((e) => stack.tracker.record(e)));
    else for (const e of events) await stack.tracker.record(e);
  }
}

/** Everything tracking reports; a generated session id (random per store) shown as "fresh". */
async function reported(stack: LimiterStack) {
  const users = await Promise.all(
    USERS.map(async (id) => {
      const stats = (await stack.tracker.stats(id)).stats;
      if (stats && !SESSIONS.includes(stats.currentSessionId)) stats.currentSessionId = 'fresh';
      return stats;
    }),
  );
  return { users, statistics: await stack.admin.statistics() };
}

describe.each<StoreName>(['redis', 'cluster'])('tracking writes of one turn, written together on the %s store', (storeName) => {
  it('report exactly what the same events recorded one by one report on the memory store', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(turn, { minLength: 1, maxLength: 6 }), async (turns) => {
        const [shared, reference] = await Promise.all([limiterStack(storeName, redisUrl), limiterStack('memory', redisUrl)]);
        try {
          await play(shared, turns, true);
          await play(reference, turns, false);
          expect(await reported(shared)).toEqual(await reported(reference));
        } finally {
          await Promise.all([shared.close(), reference.close()]);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('past 100 events in one turn (written in several calls) still report what one-by-one writes report', async () => {
    const turns: Turn[] = [
      {
        advanceMs: 0,
        events: Array.from({ length: 250 }, (_, i) => ({
          userId: USERS[i % 3]!,
          activity: ACTIVITIES[i % 2]!,
          ip: '',
          sessionId: i % 7 === 0 ? SESSIONS[i % 2]! : '',
          agoMs: i % 5 === 0 ? 2 * MINUTE_MS : 0,
        })),
      },
    ];
    const [shared, reference] = await Promise.all([limiterStack(storeName, redisUrl), limiterStack('memory', redisUrl)]);
    try {
      await play(shared, turns, true);
      await play(reference, turns, false);
      expect(await reported(shared)).toEqual(await reported(reference));
      expect((await shared.tracker.stats('ann')).stats?.totalRequests).toBe(84);
    } finally {
      await Promise.all([shared.close(), reference.close()]);
    }
  });
});

describe('a failed write of a turn', () => {
  it('fails only the events it is part of (UNAVAILABLE, to be held), in arrival order; the others are written', async () => {
    const s = await limiterStack('redis', redisUrl);
    const redis = rawRedis('redis', redisUrl);
    try {
      const today = s.clock.now();
      // Today's distinct-users key taken by a string: that day's PFADD fails.
      await redis.set(s.keys.trackDaily(utcDate(today), 'dau'), 'not a HyperLogLog', 'PX', 60_000);
      const settled: string[] = [];
      const events = [
        { userId: 'ann', at: today },
        { userId: 'bob', at: today - DAY_MS },
        { userId: 'cy', at: today },
      ].map(({ userId, at }) => s.tracker.event({ userId, activity: 'ai', ip: '', sessionId: '', atMs: at }));
      const outcomes = await Promise.allSettled(
        events.map((e) =>
          s.tracker.record(e).then(
            () => settled.push(`${e.userId} ok`),
            (err: unknown) => {
              settled.push(`${e.userId} failed`);
              throw err;
            },
          ),
        ),
      );
      expect(settled).toEqual(['ann failed', 'bob ok', 'cy failed']);
      for (const i of [0, 2]) {
        const reason = (outcomes[i] as PromiseRejectedResult).reason;
        expect(reason).toBeInstanceOf(FloodgateError);
        expect((reason as FloodgateError).code).toBe(status.UNAVAILABLE);
      }
      expect((await s.tracker.stats('bob')).stats?.totalRequests).toBe(1);
    } finally {
      redis.disconnect();
      await s.close();
    }
  });
});
