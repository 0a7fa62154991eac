import type { KeySpace } from '../store/keys.js';

/** Per-user tracking data lives this long after its last write; global indexes are trimmed to it. */
export const RETENTION_MS = 7 * 24 * 3_600_000;
/** A gap longer than this between event times starts a new session. */
export const SESSION_GAP_MS = 3_600_000;
/**
 * The session key outlives the gap by this much after its last write, so that an event arriving
 * up to this late is still judged against its session by event time (a key expiring at exactly
 * one gap after the write would start a new session for an event 1 ms late at the boundary).
 */
export const SESSION_KEEP_MS = SESSION_GAP_MS + 5 * 60_000;
/** "Active at once" means active within this window. */
export const CONCURRENCY_WINDOW_MS = 5 * 60_000;
/** Global per-period keys (daily counters, peaks) outlive the 7 days they report by one day. */
export const GLOBAL_TTL_MS = RETENTION_MS + 24 * 3_600_000;
export const MINUTE_MS = 60_000;
export const HOUR_MS = 3_600_000;
export const DAY_MS = 24 * HOUR_MS;
/** Most users kept in the top-users index; the cleanup trims it to this. */
export const TOP_INDEX_MAX = 1_000;

/** One thing a user did. `at` is the event time (Unix ms). */
export interface ActivityEvent {
  userId: string;
  activity: string;
  ip: string;
  /** Explicit session id; empty: sessions are cut by the 1 h gap. */
  sessionId: string;
  at: number;
}

export interface DayCounts {
  date: string;
  total: number;
  activities: Record<string, number>;
}

export interface SuspensionState {
  reason: string;
  since: number;
  /** 0: until lifted. */
  until: number;
}

/** Everything stored about one user. */
export interface UserRecord {
  first: number;
  last: number;
  total: number;
  sessions: number;
  lastIp: string;
  peakMinute: number;
  peakRequests: number;
  activities: Record<string, number>;
  /** Present while the last activity is within the session gap. */
  session: { id: string; start: number; last: number } | undefined;
  /** The 7 days ending today, newest first; days without activity are left out. */
  days: DayCounts[];
}

export interface UserSummary {
  userId: string;
  first: number;
  last: number;
  total: number;
  sessions: number;
}

/** Position in the users index: entries strictly after (older than, or equal time and smaller id). */
export interface Cursor {
  last: number;
  userId: string;
}

export interface Peak {
  periodStart: number;
  users: number;
  at: number;
}

export interface DayTotals {
  date: string;
  activeUsers: number;
  activities: Record<string, number>;
}

/**
 * Tracking state. `record` updates one user atomically (one script under the user's hash tag)
 * and the global indexes beside it. Reads take `now` so a fake clock decides what is expired,
 * the same way on every store.
 */
export interface TrackingStore {
  record(event: ActivityEvent, freshSessionId: string, now: number): Promise<void>;
  user(userId: string, now: number): Promise<UserRecord | undefined>;
  summaries(userIds: readonly string[], now: number): Promise<Array<UserSummary | undefined>>;
  /** Users by last activity, newest first, last activity after `since`. */
  recentUsers(after: Cursor | undefined, count: number, since: number): Promise<Cursor[]>;
  countActive(since: number): Promise<number>;
  topUsers(count: number): Promise<string[]>;
  days(dates: readonly string[]): Promise<DayTotals[]>;
  peaks(kind: 'hour' | 'day', periodStarts: readonly number[]): Promise<Array<Peak | undefined>>;
  suspension(userId: string, now: number): Promise<SuspensionState | undefined>;
  /** Suspended user ids (suspension not yet expired). */
  suspendedUsers(now: number): Promise<string[]>;
  /** undefined lifts the suspension. */
  setSuspension(userId: string, state: SuspensionState | undefined, now: number): Promise<void>;
  /** Deletes every tracking key of the user and its index entries; returns the keys deleted. */
  resetUser(userId: string, now: number): Promise<number>;
  /** Trims the global indexes to the retention; returns the entries removed. */
  trimIndexes(now: number): Promise<number>;
  /** SET NX PX: true when this token now holds the lock. */
  tryLock(name: string, token: string, ttlMs: number, now: number): Promise<boolean>;
  /** Releases the lock only while this token holds it. */
  unlock(name: string, token: string, now: number): Promise<boolean>;
}

export function utcDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}

export function floorTo(ms: number, unit: number): number {
  return ms - (((ms % unit) + unit) % unit);
}

/** The UTC dates of the `n` days ending with `now`'s day, newest first. */
export function lastDates(now: number, n: number): string[] {
  return Array.from({ length: n }, (_, i) => utcDate(now - i * DAY_MS));
}

/**
 * Every per-user tracking key that can exist at `now`. A day key lives 7 days after its last
 * write, and an event may be 7 days old when written: day keys exist for the last 15 dates at most.
 */
export function userKeys(keys: KeySpace, userId: string, now: number): string[] {
  return [keys.trackUser(userId), keys.trackSession(userId), ...lastDates(now, 15).map((d) => keys.trackDay(userId, d))];
}

/** Redis orders sorted-set members of equal score by bytes; the memory store and cursors do the same. */
export function compareIds(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** Newest activity first; equal times by id, descending (the order of ZREVRANGEBYSCORE). */
export function byRecency(a: Cursor, b: Cursor): number {
  return b.last - a.last || compareIds(b.userId, a.userId);
}

/** Whether `c` comes after `cursor` in recency order (everything does when there is no cursor). */
export function isAfter(c: Cursor, cursor: Cursor | undefined): boolean {
  return !cursor || byRecency(cursor, c) < 0;
}

/** Whether a user whose last write was at `last` is still retained at `now`. */
export function retained(last: number, now: number): boolean {
  return last > 0 && last > now - RETENTION_MS;
}

/** The suspension, unless it has expired by `now`. */
export function activeSuspension(s: SuspensionState, now: number): SuspensionState | undefined {
  return s.until === 0 || s.until > now ? s : undefined;
}
