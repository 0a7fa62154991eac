import type { KeySpace } from '../store/keys.js';
import { packArray } from '../store/msgpack.js';
import { inOneWrite, type RedisClient } from '../store/redis-connection.js';
import { RedisScript, ScriptKeys } from '../store/redis-script.js';
import { storeError } from '../store/redis-store.js';
import { CONCURRENCY_WINDOW_MS, DAY_MS, GLOBAL_TTL_MS, HOUR_MS, RETENTION_MS, SESSION_GAP_MS, SESSION_KEEP_MS, floorTo, utcDate, type ActivityEvent } from './tracking-store.js';

/** Events per write at most: the scripts run one event after another, and Redis serves nothing else meanwhile. */
const MAX_EVENTS_PER_WRITE = 100;

/**
 * One user's events, atomically and in order. KEYS: user hash, session hash, then the user's
 * day hashes. ARGV[1]: a MessagePack array of 6 values per event (the KEYS index of its day
 * hash, at as a string, activity, ip, explicit session id, fresh session id); ARGV[2] retention,
 * ARGV[3] session gap, ARGV[4] how long the session key is kept after this write.
 */
const RECORD_USER = `
local h, s = KEYS[1], KEYS[2]
local e = cmsgpack.unpack(ARGV[1])
local retention, gap = tonumber(ARGV[2]), tonumber(ARGV[3])
for i = 0, #e / 6 - 1 do
  local d, atS, activity, ip, sid, fresh = KEYS[e[i * 6 + 1]], e[i * 6 + 2], e[i * 6 + 3], e[i * 6 + 4], e[i * 6 + 5], e[i * 6 + 6]
  local at = tonumber(atS)
  local u = redis.call('HMGET', h, 'first', 'last', 'peakReq', 'curMin', 'curReq')
  local first, last = tonumber(u[1]), tonumber(u[2])
  local peakReq, curMin, curReq = tonumber(u[3]) or 0, tonumber(u[4]) or 0, tonumber(u[5]) or 0
  local sess = redis.call('HMGET', s, 'id', 'last')
  local sessId, sessLast = sess[1], tonumber(sess[2])
  -- Within the gap either side: a late event from further back is a session of its own.
  local continues = sessId ~= false and sessLast ~= nil and math.abs(at - sessLast) <= gap
  if sid ~= '' then
    continues = continues and sid == sessId
  elseif continues then
    sid = sessId
  else
    sid = fresh
  end
  if not continues then
    redis.call('HINCRBY', h, 'sessions', 1)
    -- The session kept is the newest: a late event's must not replace it.
    if sessLast == nil or at >= sessLast then
      redis.call('DEL', s)
      redis.call('HSET', s, 'id', sid, 'start', atS, 'last', atS)
    end
  elseif at > sessLast then
    redis.call('HSET', s, 'last', atS)
  end
  if first == nil or at < first then redis.call('HSET', h, 'first', atS) end
  if last == nil or at >= last then
    redis.call('HSET', h, 'last', atS)
    if ip ~= '' then redis.call('HSET', h, 'ip', ip) end
  end
  redis.call('HINCRBY', h, 'total', 1)
  redis.call('HINCRBY', h, 'a:' .. activity, 1)
  local minute = at - (at % 60000)
  if minute == curMin then curReq = curReq + 1 elseif minute > curMin then curMin = minute; curReq = 1 else curReq = 0 end
  if curReq > 0 then
    redis.call('HSET', h, 'curMin', string.format('%d', curMin), 'curReq', curReq)
    if curReq > peakReq then redis.call('HSET', h, 'peakMin', string.format('%d', curMin), 'peakReq', curReq) end
  end
  redis.call('HINCRBY', d, 'total', 1)
  redis.call('HINCRBY', d, 'a:' .. activity, 1)
end
redis.call('PEXPIRE', s, ARGV[4])
redis.call('PEXPIRE', h, retention)
for k = 3, #KEYS do redis.call('PEXPIRE', KEYS[k], retention) end
return 1
`;

/**
 * The global side of events, in order ({trk} tag). KEYS: users index, top index, then hour and
 * day peak hashes. ARGV[1]: a MessagePack array of 6 values per event (user id, at as a string,
 * the exclusive lower and inclusive upper bound of its concurrency window, the KEYS indexes of
 * its hour and day peak); ARGV[2] ttl.
 */
const RECORD_INDEX = `
local users, top = KEYS[1], KEYS[2]
local e = cmsgpack.unpack(ARGV[1])
for i = 0, #e / 6 - 1 do
  local id, atS, low, high = e[i * 6 + 1], e[i * 6 + 2], e[i * 6 + 3], e[i * 6 + 4]
  local cur = tonumber(redis.call('ZSCORE', users, id))
  if cur == nil or tonumber(atS) > cur then redis.call('ZADD', users, atS, id) end
  redis.call('ZINCRBY', top, 1, id)
  -- Users whose latest activity is within the window around the event: those active only since
  -- a late event's time were not active then.
  local active = redis.call('ZCOUNT', users, low, high)
  for j = 5, 6 do
    local peak = KEYS[e[i * 6 + j]]
    local best = tonumber(redis.call('HGET', peak, 'users')) or 0
    if active > best then redis.call('HSET', peak, 'users', active, 'at', atS) end
  end
end
for k = 1, #KEYS do redis.call('PEXPIRE', KEYS[k], ARGV[2]) end
return 1
`;

interface Pending {
  event: ActivityEvent;
  freshSessionId: string;
  /** The first failure of a write this event is part of (its user's, the global index, its day's). */
  error?: Error;
  resolve(): void;
  reject(err: Error): void;
}

/**
 * Tracking writes of one event-loop turn, written together: one script call per user (its
 * events in order), one for the global index, and one set of counter commands per day, instead
 * of six commands per event. The events' promises settle when every write of the turn has
 * answered, in arrival order; an event fails (UNAVAILABLE) when a write it is part of failed,
 * so the caller can hold and replay it, and only it.
 */
export class RedisActivityWriter {
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly userScript: RedisScript;
  private readonly indexScript: RedisScript;

  constructor(
    private readonly client: RedisClient,
    private readonly keys: KeySpace,
  ) {
    this.userScript = new RedisScript(client, 'fg_track_user', RECORD_USER);
    this.indexScript = new RedisScript(client, 'fg_track_index', RECORD_INDEX);
  }

  write(event: ActivityEvent, freshSessionId: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.queue.push({ event, freshSessionId, resolve, reject });
      if (this.queue.length >= MAX_EVENTS_PER_WRITE) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(this.onTurnEnd);
      }
    });
  }

  private readonly onTurnEnd = (): void => {
    this.scheduled = false;
    if (this.queue.length) this.flush();
  };

  private flush(): void {
    const batch = this.queue;
    this.queue = [];
    const byUser = new Map<string, Pending[]>();
    const byDate = new Map<string, Pending[]>();
    for (const p of batch) {
      append(byUser, p.event.userId, p);
      append(byDate, utcDate(p.event.at), p);
    }
    const writes: Array<[readonly Pending[], Promise<unknown>]> = [];
    inOneWrite(this.client, () => {
      for (const [userId, events] of byUser) writes.push([events, this.writeUser(userId, events)]);
      writes.push([batch, this.writeIndex(batch)]);
      for (const [date, events] of byDate) writes.push([events, this.writeDay(date, events)]);
    });
    let unanswered = writes.length;
    for (const [events, write] of writes) {
      write
        .catch((err: unknown) => {
          const error = storeError(err);
          for (const p of events) p.error ??= error;
        })
        .finally(() => {
          if (--unanswered > 0) return;
          // All at once and in arrival order, so failed events are held (and replayed) in that order.
          for (const p of batch) {
            if (p.error) p.reject(p.error);
            else p.resolve();
          }
        });
    }
  }

  private writeUser(userId: string, events: readonly Pending[]): Promise<unknown> {
    const k = this.keys;
    const keys = new ScriptKeys(k.trackUser(userId), k.trackSession(userId));
    const values: Array<string | number> = [];
    for (const { event: e, freshSessionId } of events) {
      values.push(keys.of(k.trackDay(userId, utcDate(e.at))), String(e.at), e.activity, e.ip, e.sessionId, freshSessionId);
    }
    return this.userScript.run(keys.keys, [packArray(values), RETENTION_MS, SESSION_GAP_MS, SESSION_KEEP_MS]);
  }

  private writeIndex(events: readonly Pending[]): Promise<unknown> {
    const k = this.keys;
    const keys = new ScriptKeys(k.trackIndex('users'), k.trackIndex('top'));
    const values: Array<string | number> = [];
    for (const { event: e } of events) {
      const hour = keys.of(k.trackIndex(`ph:${floorTo(e.at, HOUR_MS)}`));
      values.push(e.userId, String(e.at), `(${e.at - CONCURRENCY_WINDOW_MS}`, String(e.at + CONCURRENCY_WINDOW_MS), hour, keys.of(k.trackIndex(`pd:${floorTo(e.at, DAY_MS)}`)));
    }
    return this.indexScript.run(keys.keys, [packArray(values), GLOBAL_TTL_MS]);
  }

  /** The day's distinct users (HyperLogLog) and requests per activity, summed over the events. */
  private writeDay(date: string, events: readonly Pending[]): Promise<unknown> {
    const dau = this.keys.trackDaily(date, 'dau');
    const act = this.keys.trackDaily(date, 'act');
    const perActivity = new Map<string, number>();
    for (const { event: e } of events) perActivity.set(e.activity, (perActivity.get(e.activity) ?? 0) + 1);
    return Promise.all([
      this.client.pfadd(dau, ...new Set(events.map((p) => p.event.userId))),
      this.client.pexpire(dau, GLOBAL_TTL_MS),
      ...[...perActivity].map(([activity, n]) => this.client.hincrby(act, activity, n)),
      this.client.pexpire(act, GLOBAL_TTL_MS),
    ]);
  }
}

function append<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
