import type { Clock } from '../clock.js';
import type { KeySpace } from '../store/keys.js';
import type { MemoryStore } from '../store/memory-store.js';
import {
  CONCURRENCY_WINDOW_MS,
  DAY_MS,
  GLOBAL_TTL_MS,
  HOUR_MS,
  MINUTE_MS,
  RETENTION_MS,
  SESSION_GAP_MS,
  SESSION_KEEP_MS,
  TOP_INDEX_MAX,
  activeSuspension,
  byRecency,
  compareIds,
  floorTo,
  isAfter,
  lastDates,
  retained,
  userKeys,
  utcDate,
} from './tracking-store.js';
import type * as T from './tracking-store.js';

interface UserHash {
  first: number;
  last: number;
  total: number;
  sessions: number;
  ip: string;
  peakMin: number;
  peakReq: number;
  curMin: number;
  curReq: number;
  activities: Record<string, number>;
}
interface Session {
  id: string;
  start: number;
  last: number;
}
interface Day {
  total: number;
  activities: Record<string, number>;
}
type Index = Map<string, number>;

/** Most users the in-process indexes hold; past it the least recently active are dropped. */
export const MEMORY_MAX_USERS = 100_000;

/**
 * Tracking on the in-process memory store: the same keys, expiries and rules as the Redis
 * scripts, on the memory store's bounded, expiring map.
 */
export class MemoryTrackingStore implements T.TrackingStore {
  /**
   * Users by the time of their last update, oldest first (a Map keeps insertion order), pruned
   * past two concurrency windows: counting "users active at once" walks these few instead of the
   * whole users index on every event. The users index stays the truth; see activeAt().
   */
  private readonly recent: Index = new Map();

  constructor(
    private readonly store: MemoryStore,
    private readonly keys: KeySpace,
    private readonly clock: Clock,
    private readonly maxUsers = MEMORY_MAX_USERS,
  ) {}

  async record(e: T.ActivityEvent, freshSessionId: string, now: number): Promise<void> {
    const k = this.keys;
    const date = utcDate(e.at);
    const h = this.get<UserHash>(k.trackUser(e.userId), now) ?? emptyUser();
    const s = this.get<Session>(k.trackSession(e.userId), now);

    // Within the gap either side: a late event from further back is a session of its own.
    let continues = s !== undefined && Math.abs(e.at - s.last) <= SESSION_GAP_MS;
    let sid = e.sessionId;
    if (sid !== '') continues = continues && sid === s!.id;
    else sid = continues ? s!.id : freshSessionId;
    // The session kept is the newest: a late event's must not replace it.
    const session = continues ? { ...s!, last: Math.max(s!.last, e.at) } : s && s.last > e.at ? s : { id: sid, start: e.at, last: e.at };
    if (!continues) h.sessions++;
    // Kept as long as the Redis key (PEXPIRE SESSION_KEEP_MS after the write).
    this.store.put(k.trackSession(e.userId), session, now + SESSION_KEEP_MS + 1);

    if (h.first === 0 || e.at < h.first) h.first = e.at;
    if (e.at >= h.last) {
      h.last = e.at;
      if (e.ip !== '') h.ip = e.ip;
    }
    h.total++;
    bump(h.activities, e.activity);
    const minute = floorTo(e.at, MINUTE_MS);
    if (minute >= h.curMin) {
      h.curReq = minute === h.curMin ? h.curReq + 1 : 1;
      h.curMin = minute;
      if (h.curReq > h.peakReq) [h.peakMin, h.peakReq] = [h.curMin, h.curReq];
    }
    this.store.put(k.trackUser(e.userId), h, now + RETENTION_MS);
    const day = this.get<Day>(k.trackDay(e.userId, date), now) ?? { total: 0, activities: {} };
    day.total++;
    bump(day.activities, e.activity);
    this.store.put(k.trackDay(e.userId, date), day, now + RETENTION_MS);

    const users = this.index('users', now);
    if (!(e.at <= (users.get(e.userId) ?? -Infinity))) users.set(e.userId, e.at);
    const top = this.index('top', now);
    top.set(e.userId, (top.get(e.userId) ?? 0) + 1);
    this.capUsers(users, top);
    this.store.put(k.trackIndex('users'), users, now + GLOBAL_TTL_MS);
    this.store.put(k.trackIndex('top'), top, now + GLOBAL_TTL_MS);
    const active = this.activeAt(users, e.userId, e.at, now);
    for (const key of [k.trackIndex(`ph:${floorTo(e.at, HOUR_MS)}`), k.trackIndex(`pd:${floorTo(e.at, DAY_MS)}`)]) {
      const best = this.get<{ users: number; at: number }>(key, now);
      this.store.put(key, best && best.users >= active ? best : { users: active, at: e.at }, now + GLOBAL_TTL_MS);
    }

    const dau = this.get<Set<string>>(k.trackDaily(date, 'dau'), now) ?? new Set<string>();
    if (dau.size < this.maxUsers) dau.add(e.userId);
    this.store.put(k.trackDaily(date, 'dau'), dau, now + GLOBAL_TTL_MS);
    const act = this.get<Record<string, number>>(k.trackDaily(date, 'act'), now) ?? {};
    bump(act, e.activity);
    this.store.put(k.trackDaily(date, 'act'), act, now + GLOBAL_TTL_MS);
  }

  async user(userId: string, now: number): Promise<T.UserRecord | undefined> {
    const h = this.get<UserHash>(this.keys.trackUser(userId), now);
    if (!h || !retained(h.last, now)) return undefined;
    const s = this.get<Session>(this.keys.trackSession(userId), now);
    return {
      first: h.first,
      last: h.last,
      total: h.total,
      sessions: h.sessions,
      lastIp: h.ip,
      peakMinute: h.peakMin,
      peakRequests: h.peakReq,
      activities: { ...h.activities },
      session: s && now - s.last <= SESSION_GAP_MS ? { ...s } : undefined,
      days: lastDates(now, 7).flatMap((date) => {
        const d = this.get<Day>(this.keys.trackDay(userId, date), now);
        return d ? [{ date, total: d.total, activities: { ...d.activities } }] : [];
      }),
    };
  }

  async summaries(userIds: readonly string[], now: number): Promise<Array<T.UserSummary | undefined>> {
    return userIds.map((userId) => {
      const h = this.get<UserHash>(this.keys.trackUser(userId), now);
      return h && retained(h.last, now) ? { userId, first: h.first, last: h.last, total: h.total, sessions: h.sessions } : undefined;
    });
  }

  async recentUsers(after: T.Cursor | undefined, count: number, since: number): Promise<T.Cursor[]> {
    return [...this.peekIndex('users')]
      .map(([userId, last]) => ({ userId, last }))
      .filter((c) => c.last > since && isAfter(c, after))
      .sort(byRecency)
      .slice(0, count);
  }

  async countActive(since: number): Promise<number> {
    let n = 0;
    for (const last of this.peekIndex('users').values()) if (last > since) n++;
    return n;
  }

  async topUsers(count: number): Promise<string[]> {
    return [...this.peekIndex('top')]
      .sort(([a, x], [b, y]) => y - x || compareIds(b, a))
      .slice(0, count)
      .map(([id]) => id);
  }

  async days(dates: readonly string[]): Promise<T.DayTotals[]> {
    const now = this.now();
    return dates.map((date) => ({
      date,
      activeUsers: this.get<Set<string>>(this.keys.trackDaily(date, 'dau'), now)?.size ?? 0,
      activities: { ...this.get<Record<string, number>>(this.keys.trackDaily(date, 'act'), now) },
    }));
  }

  async peaks(kind: 'hour' | 'day', periodStarts: readonly number[]): Promise<Array<T.Peak | undefined>> {
    const tag = kind === 'hour' ? 'ph' : 'pd';
    return periodStarts.map((periodStart) => {
      const p = this.get<{ users: number; at: number }>(this.keys.trackIndex(`${tag}:${periodStart}`), this.now());
      return p && { periodStart, ...p };
    });
  }

  async suspension(userId: string, now: number): Promise<T.SuspensionState | undefined> {
    const s = this.get<T.SuspensionState>(this.keys.block('user', userId), now);
    return s && activeSuspension(s, now);
  }

  async suspendedUsers(now: number): Promise<string[]> {
    return [...this.index('susp', now)]
      .filter(([, until]) => until > now)
      .sort(([a, x], [b, y]) => x - y || compareIds(a, b))
      .map(([id]) => id);
  }

  async setSuspension(userId: string, state: T.SuspensionState | undefined, now: number): Promise<void> {
    const susp = this.index('susp', now);
    this.store.put(this.keys.block('user', userId), state, state?.until ? state.until : Infinity);
    if (state) susp.set(userId, state.until || Infinity);
    else susp.delete(userId);
    for (const [id, until] of susp) if (until <= now) susp.delete(id);
    this.store.put(this.keys.trackIndex('susp'), susp.size ? susp : undefined, Math.max(...susp.values()));
  }

  async resetUser(userId: string, now: number): Promise<number> {
    const k = this.keys;
    const perUser = userKeys(k, userId, now);
    const deleted = perUser.filter((key) => this.store.delete(key, now)).length;
    this.peekIndex('users').delete(userId);
    this.peekIndex('top').delete(userId);
    return deleted;
  }

  async trimIndexes(now: number): Promise<number> {
    const users = this.peekIndex('users');
    const top = this.peekIndex('top');
    const susp = this.peekIndex('susp');
    const before = users.size + top.size + susp.size;
    for (const [id, last] of users) if (last <= now - RETENTION_MS) users.delete(id);
    for (const [id, until] of susp) if (until <= now) susp.delete(id);
    if (top.size > TOP_INDEX_MAX) {
      const kept = [...top].sort(([, x], [, y]) => y - x).slice(0, TOP_INDEX_MAX);
      top.clear();
      for (const [id, n] of kept) top.set(id, n);
    }
    for (const id of top.keys()) if (!users.has(id)) top.delete(id);
    return before - users.size - top.size - susp.size;
  }

  async tryLock(name: string, token: string, ttlMs: number, now: number): Promise<boolean> {
    const key = this.keys.trackIndex(`lock:${name}`);
    if (this.store.get(key, now) !== undefined) return false;
    this.store.put(key, token, now + ttlMs);
    return true;
  }

  async unlock(name: string, token: string, now: number): Promise<boolean> {
    const key = this.keys.trackIndex(`lock:${name}`);
    const held = this.store.get(key, now) === token;
    if (held) this.store.delete(key, now);
    return held;
  }

  private get<T>(key: string, now: number): T | undefined {
    return this.store.get(key, now) as T | undefined;
  }

  /** An index to write: the stored map, or a new one. */
  private index(name: string, now: number): Index {
    return this.get<Index>(this.keys.trackIndex(name), now) ?? new Map();
  }

  /** An index to read or trim in place (an expired one reads as empty). */
  private peekIndex(name: string): Index {
    return this.index(name, this.now());
  }

  private now(): number {
    return this.clock.now();
  }

  /** Users whose latest activity is within the concurrency window either side of `at` (as the Redis script counts). */
  private activeAt(users: Index, userId: string, at: number, now: number): number {
    this.recent.delete(userId);
    this.recent.set(userId, users.get(userId)!);
    for (const [id, last] of this.recent) {
      if (last > now - 2 * CONCURRENCY_WINDOW_MS) break;
      this.recent.delete(id);
    }
    // An event from further back than the pruned horizon needs the whole index.
    const candidates = at - CONCURRENCY_WINDOW_MS >= now - 2 * CONCURRENCY_WINDOW_MS ? this.recent.keys() : users.keys();
    let active = 0;
    // Read the index itself: a user reset or evicted since is no longer counted.
    for (const id of candidates) {
      const last = users.get(id) ?? -Infinity;
      if (last > at - CONCURRENCY_WINDOW_MS && last <= at + CONCURRENCY_WINDOW_MS) active++;
    }
    return active;
  }

  private capUsers(users: Index, top: Index): void {
    if (users.size <= this.maxUsers) return;
    const oldest = [...users].sort(([, a], [, b]) => a - b).slice(0, users.size - this.maxUsers + Math.ceil(this.maxUsers / 10));
    for (const [id] of oldest) {
      users.delete(id);
      top.delete(id);
    }
  }
}

function emptyUser(): UserHash {
  return { first: 0, last: 0, total: 0, sessions: 0, ip: '', peakMin: 0, peakReq: 0, curMin: 0, curReq: 0, activities: {} };
}

function bump(counts: Record<string, number>, name: string): void {
  counts[name] = (counts[name] ?? 0) + 1;
}
