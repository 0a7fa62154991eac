import { outcome, type Algorithm } from './algorithm.js';

/** `u`: tokens in use, scaled by the window (so refill is `limit` per ms, all integers); `t`: last update. */
interface BucketState {
  u: number;
  t: number;
}

/**
 * Token bucket: `burst` tokens, refilled continuously at `limit` per window. A request of cost c
 * takes c tokens. Scaling by the window keeps every quantity an integer, so Lua and JS agree.
 */
export const tokenBucket: Algorithm<BucketState> = {
  name: 'token_bucket',
  keySuffix: 'tb',
  fields: ['u', 't'],
  lua: `
local f = get(key)
local t = tonumber(f[2]) or now
-- max(t, now): a replica whose clock runs behind must not refill tokens twice.
local used = math.max(0, (tonumber(f[1]) or 0) - math.max(0, now - t) * limit)
local need = cost * window
local cap = burst * window
if mode == 2 then
  if f[1] then
    used = math.max(0, used - need)
    if used > 0 then
      save(key, math.ceil(used / limit) + ttl_slack, used, math.max(t, now))
    else
      drop(key)
    end
  end
  return {1, 0, 0, 0}
end
if used + need <= cap then
  local after = used
  if mode == 0 and cost > 0 then
    after = used + need
    save(key, math.ceil(after / limit) + ttl_slack, after, math.max(t, now))
  end
  return {1, math.floor((cap - used - need) / window), math.ceil(after / limit), 0}
end
return {0, math.max(0, math.floor((cap - used) / window)), math.ceil(used / limit), math.ceil((used + need - cap) / limit)}
`,
  memory(state, now, { limit, windowMs: window, cost, burst }, mode) {
    const t = state?.t ?? now;
    let used = Math.max(0, (state?.u ?? 0) - Math.max(0, now - t) * limit);
    const need = cost * window;
    const cap = burst * window;
    const keep = (u: number) => (u > 0 ? { u, t: Math.max(t, now) } : undefined);
    if (mode === 'refund') {
      if (state) used = Math.max(0, used - need);
      return { state: state && keep(used), ttlMs: Math.ceil(used / limit), outcome: outcome(true, 0, 0, 0) };
    }
    if (used + need <= cap) {
      const after = mode === 'consume' ? used + need : used;
      const ttlMs = Math.ceil(after / limit);
      return { state: keep(after), ttlMs, outcome: outcome(true, Math.floor((cap - used - need) / window), ttlMs, 0) };
    }
    const ttlMs = Math.ceil(used / limit);
    return { state: keep(used), ttlMs, outcome: outcome(false, Math.floor((cap - used) / window), ttlMs, (used + need - cap) / limit) };
  },
};
