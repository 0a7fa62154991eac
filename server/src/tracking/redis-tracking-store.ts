import type { KeySpace } from '../store/keys.js';
import type { RedisClient } from '../store/redis-connection.js';
import { storeError } from '../store/redis-store.js';
import { RedisActivityWriter } from './redis-activity-writer.js';
import {
  RETENTION_MS,
  SESSION_GAP_MS,
  TOP_INDEX_MAX,
  activeSuspension,
  compareIds,
  lastDates,
  retained,
  userKeys,
  type ActivityEvent,
  type Cursor,
  type DayTotals,
  type Peak,
  type SuspensionState,
  type TrackingStore,
  type UserRecord,
  type UserSummary,
} from './tracking-store.js';

/**
 * Suspension index update. KEYS: suspended index. ARGV: user id, expiry score ('' removes), now.
 * The index lives as long as its longest suspension; with one without expiry it is permanent.
 */
const SET_SUSPENDED = `
if ARGV[2] == '' then redis.call('ZREM', KEYS[1], ARGV[1]) else redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
local top = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if #top == 0 then return 0 end
if top[2] == 'inf' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], math.max(1, tonumber(top[2]) - tonumber(ARGV[3])))
end
return 1
`;

/** KEYS: block key. ARGV: reason, since, until, ttl (0: no expiry). */
const WRITE_BLOCK = `
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'reason', ARGV[1], 'since', ARGV[2], 'until', ARGV[3])
if tonumber(ARGV[4]) > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[4]) end
return 1
`;

/** KEYS: users, top, suspended. ARGV: retention cutoff, now, top size. */
const TRIM_INDEXES = `
local n = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
n = n + redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[2])
local size, max = redis.call('ZCARD', KEYS[2]), tonumber(ARGV[3])
if size > max then n = n + redis.call('ZREMRANGEBYRANK', KEYS[2], 0, size - max - 1) end
for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  if not redis.call('ZSCORE', KEYS[1], id) then
    redis.call('ZREM', KEYS[2], id)
    n = n + 1
  end
end
return n
`;

const UNLOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

const SCRIPTS = {
  fg_track_suspended: { numberOfKeys: 1, lua: SET_SUSPENDED },
  fg_track_block: { numberOfKeys: 1, lua: WRITE_BLOCK },
  fg_track_trim: { numberOfKeys: 3, lua: TRIM_INDEXES },
  fg_track_unlock: { numberOfKeys: 1, lua: UNLOCK },
} as const;

type Script = (...args: Array<string | number>) => Promise<number>;
type Scripts = Record<keyof typeof SCRIPTS, Script>;

/** Tracking in Redis: per-user keys under the user's tag, global indexes under their own tags. */
export class RedisTrackingStore implements TrackingStore {
  private readonly scripts: Scripts;
  private readonly writer: RedisActivityWriter;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: KeySpace,
  ) {
    this.writer = new RedisActivityWriter(client, keys);
    for (const [name, def] of Object.entries(SCRIPTS)) client.defineCommand(name, def);
    const c = client as unknown as Scripts;
    this.scripts = Object.fromEntries(Object.keys(SCRIPTS).map((n) => [n, c[n as keyof Scripts].bind(client)])) as Scripts;
  }

  record(e: ActivityEvent, freshSessionId: string): Promise<void> {
    return this.writer.write(e, freshSessionId);
  }

  async user(userId: string, now: number): Promise<UserRecord | undefined> {
    const k = this.keys;
    const dates = lastDates(now, 7);
    const [h, s, ...days] = await guard(
      Promise.all([
        this.client.hgetall(k.trackUser(userId)),
        this.client.hgetall(k.trackSession(userId)),
        ...dates.map((d) => this.client.hgetall(k.trackDay(userId, d))),
      ]),
    );
    return userRecord(h!, s!, dates, days, now);
  }

  async summaries(userIds: readonly string[], now: number): Promise<Array<UserSummary | undefined>> {
    const rows = await guard(
      Promise.all(userIds.map((id) => this.client.hmget(this.keys.trackUser(id), 'first', 'last', 'total', 'sessions'))),
    );
    return rows.map((r, i) => {
      const [first, last, total, sessions] = r.map(Number) as [number, number, number, number];
      return retained(last, now) ? { userId: userIds[i]!, first, last, total, sessions } : undefined;
    });
  }

  async recentUsers(after: Cursor | undefined, count: number, since: number): Promise<Cursor[]> {
    const users = this.keys.trackIndex('users');
    const max = after ? `(${after.last}` : '+inf';
    const [ties, rest] = await guard(
      Promise.all([
        after && after.last > since ? this.client.zrangebyscore(users, after.last, after.last) : Promise.resolve([]),
        this.client.zrevrangebyscore(users, max, `(${since}`, 'WITHSCORES', 'LIMIT', 0, count),
      ]),
    );
    const out: Cursor[] = ties
      .filter((id) => compareIds(id, after!.userId) < 0)
      .reverse()
      .map((userId) => ({ userId, last: after!.last }));
    for (let i = 0; i < rest.length; i += 2) out.push({ userId: rest[i]!, last: Number(rest[i + 1]) });
    return out.slice(0, count);
  }

  countActive(since: number): Promise<number> {
    return guard(this.client.zcount(this.keys.trackIndex('users'), `(${since}`, '+inf'));
  }

  topUsers(count: number): Promise<string[]> {
    return guard(this.client.zrevrange(this.keys.trackIndex('top'), 0, count - 1));
  }

  async days(dates: readonly string[]): Promise<DayTotals[]> {
    const k = this.keys;
    const rows = await guard(
      Promise.all(
        dates.map((d) => Promise.all([this.client.pfcount(k.trackDaily(d, 'dau')), this.client.hgetall(k.trackDaily(d, 'act'))])),
      ),
    );
    return rows.map(([activeUsers, act], i) => ({ date: dates[i]!, activeUsers, activities: numbers(act) }));
  }

  async peaks(kind: 'hour' | 'day', periodStarts: readonly number[]): Promise<Array<Peak | undefined>> {
    const tag = kind === 'hour' ? 'ph' : 'pd';
    const rows = await guard(Promise.all(periodStarts.map((p) => this.client.hgetall(this.keys.trackIndex(`${tag}:${p}`)))));
    return rows.map((r, i) => (r.users ? { periodStart: periodStarts[i]!, users: Number(r.users), at: Number(r.at) } : undefined));
  }

  async suspension(userId: string, now: number): Promise<SuspensionState | undefined> {
    const h = await guard(this.client.hgetall(this.keys.block('user', userId)));
    return h.since === undefined ? undefined : activeSuspension({ reason: h.reason ?? '', since: Number(h.since), until: Number(h.until) }, now);
  }

  suspendedUsers(now: number): Promise<string[]> {
    return guard(this.client.zrangebyscore(this.keys.trackIndex('susp'), `(${now}`, '+inf'));
  }

  async setSuspension(userId: string, state: SuspensionState | undefined, now: number): Promise<void> {
    const block = this.keys.block('user', userId);
    const index = this.keys.trackIndex('susp');
    await guard(
      Promise.all(
        state
          ? [
              this.scripts.fg_track_block(block, state.reason, state.since, state.until, state.until ? state.until - now : 0),
              this.scripts.fg_track_suspended(index, userId, state.until || '+inf', now),
            ]
          : [this.client.del(block), this.scripts.fg_track_suspended(index, userId, '', now)],
      ),
    );
  }

  async resetUser(userId: string, now: number): Promise<number> {
    const k = this.keys;
    const perUser = userKeys(k, userId, now);
    const [deleted] = await guard(
      Promise.all([
        this.client.del(...perUser),
        this.client.zrem(k.trackIndex('users'), userId),
        this.client.zrem(k.trackIndex('top'), userId),
      ]),
    );
    return deleted;
  }

  trimIndexes(now: number): Promise<number> {
    const k = this.keys;
    return guard(
      this.scripts.fg_track_trim(k.trackIndex('users'), k.trackIndex('top'), k.trackIndex('susp'), now - RETENTION_MS, now, TOP_INDEX_MAX),
    );
  }

  async tryLock(name: string, token: string, ttlMs: number): Promise<boolean> {
    return (await guard(this.client.set(this.keys.trackIndex(`lock:${name}`), token, 'PX', ttlMs, 'NX'))) === 'OK';
  }

  async unlock(name: string, token: string): Promise<boolean> {
    return (await guard(this.scripts.fg_track_unlock(this.keys.trackIndex(`lock:${name}`), token))) === 1;
  }
}

async function guard<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (err) {
    throw storeError(err);
  }
}

function numbers(h: Record<string, string>, prefix = ''): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(h)) if (k.startsWith(prefix)) out[k.slice(prefix.length)] = Number(v);
  return out;
}

function userRecord(
  h: Record<string, string>,
  s: Record<string, string>,
  dates: readonly string[],
  days: ReadonlyArray<Record<string, string>>,
  now: number,
): UserRecord | undefined {
  const last = Number(h.last ?? 0);
  if (!retained(last, now)) return undefined;
  const sessionLast = Number(s.last ?? 0);
  return {
    first: Number(h.first),
    last,
    total: Number(h.total ?? 0),
    sessions: Number(h.sessions ?? 0),
    lastIp: h.ip ?? '',
    peakMinute: Number(h.peakMin ?? 0),
    peakRequests: Number(h.peakReq ?? 0),
    activities: numbers(h, 'a:'),
    session: s.id !== undefined && now - sessionLast <= SESSION_GAP_MS ? { id: s.id, start: Number(s.start), last: sessionLast } : undefined,
    days: days.flatMap((d, i) => (d.total ? [{ date: dates[i]!, total: Number(d.total), activities: numbers(d, 'a:') }] : [])),
  };
}
