import { Reason } from '@floodgate/client';
import { afterEach, beforeEach, describe, expect, it, inject } from 'vitest';
import { DAY_MS, HOUR_MS, MINUTE_MS, RETENTION_MS, SESSION_GAP_MS } from '../../server/src/tracking/tracking-store.js';
import { limiterStack, policy, type LimiterStack, type StoreName } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const POLICIES = [policy({ name: 'small', limit: 3, windowMs: 60_000 }), policy({ name: 'iponly', limit: 3, scopes: ['ip'] })];

// One suite, both stores: the memory store must track exactly like Redis under the same fake clock.
describe.each<StoreName>(['memory', 'redis', 'cluster'])('tracking on the %s store', (storeName) => {
  let s: LimiterStack;
  beforeEach(async () => {
    s = await limiterStack(storeName, redisUrl, { policies: POLICIES, allowlist: ['10.0.0.0/8'] });
  });
  afterEach(() => s.close());

  const record = (userId: string, activity = 'ai', extra: { ip?: string; sessionId?: string; atMs?: number } = {}) =>
    s.tracker.record(s.tracker.event({ userId, activity, ip: '', sessionId: '', atMs: 0, ...extra }));
  const stats = async (userId: string) => (await s.tracker.stats(userId)).stats!;
  const check = (req: { userId?: string; ip?: string; policy?: string; recordActivity?: string; dryRun?: boolean }) =>
    s.limiter.check({ policy: 'small', userId: '', ip: '', cost: undefined, dryRun: false, recordActivity: '', sessionId: '', ...req });

  it('keeps first/last seen, totals, per-activity counts per day and the last IP', async () => {
    const t0 = s.clock.now();
    await record('alice', 'ai', { ip: '203.0.113.5' });
    s.clock.advance(1_000);
    await record('alice', 'login');
    await record('alice', 'ai');
    s.clock.advance(DAY_MS);
    await record('alice', 'tts', { ip: '::ffff:198.51.100.7' });
    const st = await stats('alice');
    expect(st).toMatchObject({ userId: 'alice', firstSeenMs: t0, lastSeenMs: t0 + 1_000 + DAY_MS, totalRequests: 4, lastIp: '198.51.100.7' });
    expect(st.activities).toEqual([
      { activity: 'ai', count: 2 },
      { activity: 'login', count: 1 },
      { activity: 'tts', count: 1 },
    ]);
    expect(st.daily).toEqual([
      { date: '2026-01-02', total: 1, activities: [{ activity: 'tts', count: 1 }] },
      {
        date: '2026-01-01',
        total: 3,
        activities: [
          { activity: 'ai', count: 2 },
          { activity: 'login', count: 1 },
        ],
      },
    ]);
    expect(await s.tracker.stats('nobody')).toEqual({ stats: undefined, found: false });
  });

  it('starts a new session after a gap over 1 hour or on a new explicit session id', async () => {
    await record('sam');
    const first = (await stats('sam')).currentSessionId;
    expect(first).not.toBe('');
    s.clock.advance(SESSION_GAP_MS); // exactly 1 h: the same session
    await record('sam');
    expect(await stats('sam')).toMatchObject({ sessionCount: 1, currentSessionId: first });
    s.clock.advance(SESSION_GAP_MS + 1); // over 1 h: a new one
    await record('sam');
    const second = (await stats('sam')).currentSessionId;
    expect(second).not.toBe(first);
    expect((await stats('sam')).sessionCount).toBe(2);
    await record('sam', 'ai', { sessionId: 'tab-1' });
    await record('sam', 'ai', { sessionId: 'tab-1' });
    expect(await stats('sam')).toMatchObject({ sessionCount: 3, currentSessionId: 'tab-1' });
    await record('sam', 'ai', { sessionId: 'tab-2' });
    await record('sam');
    expect(await stats('sam')).toMatchObject({ sessionCount: 4, currentSessionId: 'tab-2' });
    // The session lives 1 h after the last activity.
    s.clock.advance(SESSION_GAP_MS);
    expect((await stats('sam')).currentSessionId).toBe('tab-2');
    s.clock.advance(1);
    expect(await stats('sam')).toMatchObject({ sessionCount: 4, currentSessionId: '' });
  });

  it('counts a late event from further back than the gap as a session of its own, whatever the order events arrive in', async () => {
    const now = s.clock.now();
    for (const [userId, ats] of [
      ['newest-first', [now, now - 3 * HOUR_MS, now - 6 * HOUR_MS]],
      ['oldest-first', [now - 6 * HOUR_MS, now - 3 * HOUR_MS, now]],
    ] as const) {
      for (const atMs of ats) await record(userId, 'ai', { atMs });
    }
    expect((await stats('newest-first')).sessionCount).toBe(3);
    expect((await stats('oldest-first')).sessionCount).toBe(3);
    // The newest session is the one kept: an event now continues it, a late one did not replace it.
    const current = (await stats('newest-first')).currentSessionId;
    await record('newest-first');
    expect(await stats('newest-first')).toMatchObject({ sessionCount: 3, currentSessionId: current });
    // A late event within the gap of the current session joins it.
    await record('newest-first', 'ai', { atMs: now - HOUR_MS });
    expect((await stats('newest-first')).sessionCount).toBe(3);
  });

  it('does not count users active since a late event as active at its time', async () => {
    const t0 = s.clock.now();
    s.clock.set(t0 + 20 * HOUR_MS);
    for (const userId of ['x1', 'x2', 'x3']) await record(userId);
    await record('late', 'ai', { atMs: t0 });
    const st = await s.admin.statistics();
    expect(st.hourlyPeaks.find((p) => p.periodStartMs === t0)).toEqual({ periodStartMs: t0, users: 1, atMs: t0 });
  });

  it('lists at most 100 activities per list, the rest summed as (other), so many distinct names cannot make an answer too large', async () => {
    const names = Array.from({ length: 150 }, (_, i) => `act-${String(i).padStart(3, '0')}`);
    await Promise.all(names.map((name) => record('many', name)));
    await record('many', 'act-149');
    const lists = [(await stats('many')).activities, (await stats('many')).daily[0]!.activities, (await s.admin.statistics()).requestsPerActivity[0]!.activities];
    for (const list of lists) {
      expect(list).toHaveLength(100);
      expect(list[0]).toEqual({ activity: 'act-149', count: 2 });
      // 151 events: 2 + 98 listed singly, the other 51 names once each.
      expect(list[99]).toEqual({ activity: '(other)', count: 51 });
    }
  });

  it('keeps the busiest minute, with minute boundaries exact', async () => {
    const t0 = s.clock.now();
    await record('pia');
    s.clock.advance(MINUTE_MS - 1);
    await record('pia'); // still minute 0
    s.clock.advance(1);
    for (let i = 0; i < 3; i++) await record('pia'); // minute 1: 3
    s.clock.advance(MINUTE_MS);
    await record('pia'); // minute 2: 1
    expect((await stats('pia')).peakMinute).toEqual({ minuteStartMs: t0 + MINUTE_MS, requests: 3 });
    // A late event for an earlier minute does not move the peak.
    await record('pia', 'ai', { atMs: t0 });
    expect((await stats('pia')).peakMinute).toEqual({ minuteStartMs: t0 + MINUTE_MS, requests: 3 });
  });

  it('measures the most users active at once (5 minute window) per hour and per day', async () => {
    const t0 = s.clock.now();
    await record('a');
    s.clock.set(t0 + MINUTE_MS);
    await record('b');
    s.clock.set(t0 + 4 * MINUTE_MS);
    await record('c'); // a, b, c within 5 minutes: 3
    s.clock.set(t0 + 5 * MINUTE_MS + 1);
    await record('d'); // a left the window: b, c, d
    s.clock.set(t0 + 6 * MINUTE_MS);
    await record('e'); // b (at exactly 5 minutes ago) left too: c, d, e
    s.clock.set(t0 + HOUR_MS + 1);
    await record('a'); // next hour: c, d, e left; only a
    const st = await s.admin.statistics();
    expect(st.hourlyPeaks).toEqual([
      { periodStartMs: t0 + HOUR_MS, users: 1, atMs: t0 + HOUR_MS + 1 },
      { periodStartMs: t0, users: 3, atMs: t0 + 4 * MINUTE_MS },
    ]);
    expect(st.dailyPeaks).toEqual([{ periodStartMs: t0, users: 3, atMs: t0 + 4 * MINUTE_MS }]);
  });

  it('forgets a user 7 days after the last write, and the cleanup trims the indexes', async () => {
    await record('old');
    s.clock.advance(DAY_MS);
    await record('new');
    s.clock.advance(RETENTION_MS - DAY_MS - 1);
    expect((await s.tracker.stats('old')).found).toBe(true);
    expect((await s.admin.listUsers({ pageSize: 0, pageToken: '', suspendedOnly: false })).total).toBe(2);
    s.clock.advance(1);
    expect((await s.tracker.stats('old')).found).toBe(false);
    expect((await s.tracker.stats('new')).found).toBe(true);
    const list = await s.admin.listUsers({ pageSize: 0, pageToken: '', suspendedOnly: false });
    expect(list.users.map((u) => u.userId)).toEqual(['new']);
    expect(list.total).toBe(1);
    expect(await s.tracking.trimIndexes(s.clock.now())).toBe(2); // 'old' from users and from top
    expect((await s.admin.statistics()).topUsers.map((u) => u.userId)).toEqual(['new']);
  });

  it('lists users newest first, page by page, ties included, and filters suspended users', async () => {
    const t0 = s.clock.now();
    for (const id of ['u1', 'u2', 'u3']) await record(id);
    s.clock.advance(1_000);
    for (const id of ['u4', 'u5']) await record(id);
    const seen: string[][] = [];
    let token = '';
    do {
      const page = await s.admin.listUsers({ pageSize: 2, pageToken: token, suspendedOnly: false });
      expect(page.total).toBe(5);
      seen.push(page.users.map((u) => u.userId));
      token = page.nextPageToken;
    } while (token !== '');
    expect(seen).toEqual([['u5', 'u4'], ['u3', 'u2'], ['u1']]);

    await s.admin.setSuspension({ userId: 'u2', suspended: true, reason: 'spam', durationMs: 0 });
    await s.admin.setSuspension({ userId: 'ghost', suspended: true, reason: 'never seen', durationMs: HOUR_MS });
    const susp = await s.admin.listUsers({ pageSize: 0, pageToken: '', suspendedOnly: true });
    expect(susp.total).toBe(2);
    expect(susp.users.map((u) => [u.userId, u.suspended, u.lastSeenMs])).toEqual([
      ['u2', true, t0],
      ['ghost', true, 0],
    ]);
    const all = await s.admin.listUsers({ pageSize: 500, pageToken: '', suspendedOnly: false });
    expect(all.users.filter((u) => u.suspended).map((u) => u.userId)).toEqual(['u2']);
  });

  it('reports global statistics', async () => {
    await record('x', 'ai');
    await record('x', 'ai');
    await record('y', 'login');
    s.clock.advance(2 * HOUR_MS);
    await record('z', 'ai');
    await record('z', 'ai');
    await record('z', 'ai');
    await s.admin.setSuspension({ userId: 'y', suspended: true, reason: 'test', durationMs: 0 });
    const st = await s.admin.statistics();
    expect(st).toMatchObject({ usersTracked: 3, activeLastHour: 1, activeLastDay: 3, activeLast7Days: 3, suspendedUsers: 1 });
    expect(st.dailyActiveUsers[0]).toEqual({ date: '2026-01-01', count: 3 });
    expect(st.dailyActiveUsers.slice(1).every((d) => d.count === 0)).toBe(true);
    expect(st.dailyActiveUsers).toHaveLength(7);
    expect(st.requestsPerActivity[0]).toEqual({
      date: '2026-01-01',
      activities: [
        { activity: 'ai', count: 5 },
        { activity: 'login', count: 1 },
      ],
    });
    expect(st.topUsers.map((u) => [u.userId, u.totalRequests, u.suspended])).toEqual([
      ['z', 3, false],
      ['x', 2, false],
      ['y', 1, true],
    ]);
  });

  it('suspends: CheckLimit denies SUSPENDED before counting (allowlisted IP and IP-only policies too), until lifted', async () => {
    expect((await check({ userId: 'mal' })).statuses[0]!.remaining).toBe(2);
    const set = await s.admin.setSuspension({ userId: 'mal', suspended: true, reason: 'abuse', durationMs: 10 * MINUTE_MS });
    expect(set.suspension).toEqual({ suspended: true, reason: 'abuse', sinceMs: s.clock.now(), expiresAtMs: s.clock.now() + 10 * MINUTE_MS });
    for (const req of [{ userId: 'mal' }, { userId: 'mal', ip: '10.1.2.3' }, { userId: 'mal', ip: '203.0.113.1', policy: 'iponly' }]) {
      const r = await check(req);
      expect(r.allowed).toBe(false);
      expect(r.reason).toBe(Reason.REASON_SUSPENDED);
    }
    // The IP-only policy counted nothing for the suspended user's IP.
    expect((await check({ ip: '203.0.113.1', policy: 'iponly' })).statuses[0]!.remaining).toBe(2);
    expect((await s.tracker.stats('mal')).stats!.suspension).toEqual(set.suspension);
    expect((await s.admin.statistics()).suspendedUsers).toBe(1);

    await s.admin.setSuspension({ userId: 'mal', suspended: false, reason: '', durationMs: 0 });
    const r = await check({ userId: 'mal' });
    expect(r.reason).toBe(Reason.REASON_OK);
    expect(r.statuses[0]!.remaining).toBe(1); // the denied calls counted nothing
    expect((await s.admin.statistics()).suspendedUsers).toBe(0);
  });

  it('ends a timed suspension at its expiry', async () => {
    await s.admin.setSuspension({ userId: 'tmp', suspended: true, reason: 'cool down', durationMs: MINUTE_MS });
    s.clock.advance(MINUTE_MS - 1);
    expect((await s.tracker.stats('tmp')).stats!.suspension!.suspended).toBe(true);
    s.clock.advance(1);
    expect(await s.tracker.stats('tmp')).toEqual({ stats: undefined, found: false });
    expect((await s.admin.statistics()).suspendedUsers).toBe(0);
  });

  it('records the activity of an allowed CheckLimit, not of a denied or dry-run one', async () => {
    for (let i = 0; i < 4; i++) await check({ userId: 'one', recordActivity: 'ai' });
    await check({ userId: 'one', recordActivity: 'ai', dryRun: true });
    await check({ userId: 'one', ip: '10.0.0.1', recordActivity: 'login' });
    const st = await stats('one');
    expect(st.totalRequests).toBe(4);
    expect(st.activities).toEqual([
      { activity: 'ai', count: 3 },
      { activity: 'login', count: 1 },
    ]);
  });

  it('resets tracking and rate limits of one user', async () => {
    await record('r', 'ai', { sessionId: 's1' });
    s.clock.advance(DAY_MS);
    await record('r');
    expect((await s.admin.resetTracking({ userId: 'r' })).keysDeleted).toBe(4); // user, session, 2 days
    expect((await s.tracker.stats('r')).found).toBe(false);
    expect((await s.admin.listUsers({ pageSize: 0, pageToken: '', suspendedOnly: false })).total).toBe(0);

    await check({ userId: 'r' });
    await check({ userId: 'r', ip: '203.0.113.9', policy: 'iponly' });
    expect((await s.admin.resetRateLimits({ userId: 'r', ip: '', policy: 'iponly' })).keysDeleted).toBe(0);
    expect((await s.admin.resetRateLimits({ userId: 'r', ip: '', policy: 'small' })).keysDeleted).toBe(1);
    expect((await check({ userId: 'r' })).statuses[0]!.remaining).toBe(2);
    expect((await s.admin.resetRateLimits({ userId: 'r', ip: '203.0.113.9', policy: '' })).keysDeleted).toBe(2);
    expect((await check({ ip: '203.0.113.9', policy: 'iponly' })).statuses[0]!.remaining).toBe(2);
  });

  it('resets a user whose last write recorded an event 7 days old, day key included, days later', async () => {
    await record('late-r', 'ai', { atMs: s.clock.now() - RETENTION_MS + MINUTE_MS });
    s.clock.advance(5 * DAY_MS);
    // User and day, and on Redis the session too (Redis expires it by its own clock, not the test's).
    expect((await s.admin.resetTracking({ userId: 'late-r' })).keysDeleted).toBe(storeName === 'memory' ? 2 : 3);
  });

  it('lets one cleanup runner hold the lock at a time and releases only its own lock', async () => {
    expect(await s.tracking.tryLock('cleanup', 'A', 60_000, s.clock.now())).toBe(true);
    expect(await s.tracking.tryLock('cleanup', 'B', 60_000, s.clock.now())).toBe(false);
    expect(await s.tracking.unlock('cleanup', 'B', s.clock.now())).toBe(false);
    expect(await s.tracking.tryLock('cleanup', 'B', 60_000, s.clock.now())).toBe(false);
    expect(await s.tracking.unlock('cleanup', 'A', s.clock.now())).toBe(true);
    expect(await s.tracking.tryLock('cleanup', 'B', 60_000, s.clock.now())).toBe(true);
  });
});
