import { outcome, type Algorithm } from './algorithm.js';

/** One entry per unit of cost: [time, member]. Kept sorted by time. */
type LogState = Array<[number, string]>;

/**
 * Sliding window log: exact. Every admitted unit is a sorted-set entry scored by its time;
 * a unit counts for exactly `window` ms. Memory is O(limit) per key.
 */
export const slidingLog: Algorithm<LogState> = {
  name: 'sliding_log',
  keySuffix: 'sl',
  lua: `
if mode == 2 then
  for i = 1, cost do write('ZREM', key, member .. ':' .. i) end
  return {1, 0, 0, 0}
end
trim_scores(key, now - window)
local count = read('count', 'ZCARD', key)
if count + cost <= limit then
  if mode == 0 and cost > 0 then
    for i = 1, cost do write('ZADD', key, now, member .. ':' .. i) end
    redis.call('PEXPIRE', key, window + ttl_slack)
  end
  local reset = 0
  if mode == 0 and cost > 0 then
    reset = window
  elseif count > 0 then
    local newest = read('newest', 'ZRANGE', key, -1, -1, 'WITHSCORES')
    reset = tonumber(newest[2]) + window - now
  end
  return {1, limit - count - cost, reset, 0}
end
-- Its id is its rank: the entry the request waits for.
local need = read(count + cost - limit - 1, 'ZRANGE', key, count + cost - limit - 1, count + cost - limit - 1, 'WITHSCORES')
local newest = read('newest', 'ZRANGE', key, -1, -1, 'WITHSCORES')
return {0, math.max(0, limit - count), tonumber(newest[2]) + window - now, tonumber(need[2]) + window - now}
`,
  memory(state, now, { limit, windowMs, cost, member }, mode) {
    const log = (state ?? []).filter(([t]) => t > now - windowMs);
    if (mode === 'refund') {
      const prefix = `${member}:`;
      const kept = log.filter(([, m]) => !m.startsWith(prefix));
      return { state: kept.length ? kept : undefined, ttlMs: windowMs, outcome: outcome(true, 0, 0, 0) };
    }
    const count = log.length;
    if (count + cost <= limit) {
      if (mode === 'consume' && cost > 0) {
        for (let i = 1; i <= cost; i++) log.push([now, `${member}:${i}`]);
        return { state: log, ttlMs: windowMs, outcome: outcome(true, limit - count - cost, windowMs, 0) };
      }
      const reset = count > 0 ? log[count - 1]![0] + windowMs - now : 0;
      return { state: count ? log : undefined, ttlMs: windowMs, outcome: outcome(true, limit - count - cost, reset, 0) };
    }
    const need = log[count + cost - limit - 1]![0];
    const newest = log[count - 1]![0];
    return { state: log, ttlMs: windowMs, outcome: outcome(false, limit - count, newest + windowMs - now, need + windowMs - now) };
  },
};
