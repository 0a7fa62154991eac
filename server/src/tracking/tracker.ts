import { randomUUID } from 'node:crypto';
import { FloodgateError, type ActivityCount, type GetUserStatsResponse, type Suspension, type UserStats } from '@floodgate/client';
import type { Clock } from '../clock.js';
import { validId, validIp } from '../validation.js';
import type { ActivityBuffer, RecordResult } from './activity-buffer.js';
import { RETENTION_MS, type ActivityEvent, type SuspensionState, type TrackingStore } from './tracking-store.js';

export const MAX_ACTIVITY_BYTES = 64;
export const MAX_SESSION_ID_BYTES = 128;
/** How far ahead of the server clock an event time may be (clock skew between hosts). */
export const MAX_FUTURE_SKEW_MS = 60_000;

export interface ActivityInput {
  userId: string;
  activity: string;
  ip: string;
  sessionId: string;
  atMs: number;
}

/** Where validated events go; the one seam every tracking write passes through. */
export interface ActivitySink {
  record(event: ActivityEvent): Promise<RecordResult>;
}

/**
 * User tracking: validates events, writes them (through `record` only) and reads them back as
 * the API's UserStats.
 */
export class Tracker implements ActivitySink {
  constructor(
    private readonly store: TrackingStore,
    private readonly clock: Clock,
    /** Holds writes while Redis is unreachable; without it a store failure propagates. */
    private readonly buffer?: ActivityBuffer,
  ) {}

  /** A validated event; `activityField` names the activity field of the calling RPC in errors. */
  event(input: ActivityInput, activityField = 'activity'): ActivityEvent {
    const now = this.clock.now();
    const at = input.atMs === 0 ? now : input.atMs;
    if (at < 0) throw FloodgateError.invalid('at_ms', 'must not be negative');
    if (at <= now - RETENTION_MS) throw FloodgateError.invalid('at_ms', 'is more than 7 days in the past (past the retention)');
    if (at > now + MAX_FUTURE_SKEW_MS) throw FloodgateError.invalid('at_ms', `is more than ${MAX_FUTURE_SKEW_MS} ms in the future`);
    return {
      userId: validId('user_id', input.userId),
      activity: validId(activityField, input.activity, MAX_ACTIVITY_BYTES),
      ip: input.ip === '' ? '' : validIp('ip', input.ip),
      sessionId: input.sessionId === '' ? '' : validId('session_id', input.sessionId, MAX_SESSION_ID_BYTES),
      at,
    };
  }

  /** Writes one event, or hands it to the buffer while the store is unreachable. */
  async record(event: ActivityEvent): Promise<RecordResult> {
    // Fixed now, so a held write replays exactly as it would have run.
    const sessionId = randomUUID();
    const now = this.clock.now();
    const write = () => this.store.record(event, sessionId, now);
    if (!this.buffer) {
      await write();
      return 'written';
    }
    return this.buffer.write(write);
  }

  async stats(rawUserId: string): Promise<GetUserStatsResponse> {
    const userId = validId('user_id', rawUserId);
    const now = this.clock.now();
    const [user, suspension] = await Promise.all([this.store.user(userId, now), this.store.suspension(userId, now)]);
    if (!user && !suspension) return { stats: undefined, found: false };
    const stats: UserStats = {
      userId,
      firstSeenMs: user?.first ?? 0,
      lastSeenMs: user?.last ?? 0,
      totalRequests: user?.total ?? 0,
      daily: (user?.days ?? []).map((d) => ({ date: d.date, total: d.total, activities: counts(d.activities) })),
      sessionCount: user?.sessions ?? 0,
      currentSessionId: user?.session?.id ?? '',
      peakMinute: { minuteStartMs: user?.peakMinute ?? 0, requests: user?.peakRequests ?? 0 },
      suspension: suspensionProto(suspension),
      lastIp: user?.lastIp ?? '',
      activities: counts(user?.activities ?? {}),
    };
    return { stats, found: true };
  }
}

/** Activity counts, busiest first (ties by name). */
/** Activities listed per list at most; the rest are summed as one OTHER_ACTIVITIES entry. */
export const MAX_LISTED_ACTIVITIES = 100;
export const OTHER_ACTIVITIES = '(other)';

/**
 * Counts by activity, busiest first. Activity names are the app's free text, so a list is cut at
 * MAX_LISTED_ACTIVITIES, the rest summed as one entry: an app that puts ids in its names must not
 * make an answer too large to send (80,000 names in a day made GetStatistics exceed 4 MB).
 */
export function counts(byName: Record<string, number>): ActivityCount[] {
  const sorted = Object.entries(byName)
    .sort(([a, x], [b, y]) => y - x || (a < b ? -1 : 1))
    .map(([activity, count]) => ({ activity, count }));
  if (sorted.length <= MAX_LISTED_ACTIVITIES) return sorted;
  let rest = 0;
  for (let i = MAX_LISTED_ACTIVITIES - 1; i < sorted.length; i++) rest += sorted[i]!.count;
  return [...sorted.slice(0, MAX_LISTED_ACTIVITIES - 1), { activity: OTHER_ACTIVITIES, count: rest }];
}

export function suspensionProto(s: SuspensionState | undefined): Suspension {
  return s
    ? { suspended: true, reason: s.reason, sinceMs: s.since, expiresAtMs: s.until }
    : { suspended: false, reason: '', sinceMs: 0, expiresAtMs: 0 };
}
