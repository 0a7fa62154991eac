import { outcome, type Algorithm } from './algorithm.js';

/** Counts of the aligned window starting at `w` (cur) and of the one before it (prev). */
interface CounterState {
  w: number;
  cur: number;
  prev: number;
}

/**
 * Sliding window counter: two counters per key (O(1) memory). The previous window's count is
 * weighted by the share of it still inside the sliding window, as if its requests had been
 * spread evenly. Integer arithmetic (everything scaled by the window) keeps Lua and JS equal.
 * Error bound: see docs/policies.md.
 *
 * used = prev * (window - elapsed) + cur * window, in units of 1/window requests.
 */
export const slidingWindow: Algorithm<CounterState> = {
  name: 'sliding_window',
  keySuffix: 'sw',
  fields: ['w', 'c', 'p'],
  lua: `
local ws = math.floor(now / window) * window
local f = get(key)
local w = tonumber(f[1])
local cur = tonumber(f[2]) or 0
local prev = tonumber(f[3]) or 0
if mode == 2 then
  -- A replica with a clock ahead may have rolled the window: then our units sit in prev.
  if w == ws then
    save(key, nil, w, math.max(0, cur - cost), prev)
  elseif w == ws + window then
    save(key, nil, w, cur, math.max(0, prev - cost))
  end
  return {1, 0, 0, 0}
end
if w ~= nil and w > ws then
  ws = w
elseif w == ws - window then
  prev = cur
  cur = 0
elseif w ~= ws then
  prev = 0
  cur = 0
end
local elapsed = math.max(0, now - ws)
local used = prev * (window - elapsed) + cur * window
local cap = limit * window
if used + cost * window <= cap then
  local after = cur
  if mode == 0 and cost > 0 then
    after = cur + cost
    save(key, ws + 2 * window - now + ttl_slack, ws, after, prev)
  end
  local reset = 0
  if after > 0 then reset = ws + 2 * window - now elseif prev > 0 then reset = ws + window - now end
  return {1, math.floor((cap - used - cost * window) / window), reset, 0}
end
local reset = ws + window - now
if cur > 0 then reset = reset + window end
local spare = limit - cur - cost
local retry
if spare >= 0 then
  retry = window - math.floor(spare * window / prev) - elapsed
else
  retry = window - elapsed + window - math.floor((limit - cost) * window / cur)
end
return {0, math.max(0, math.floor((cap - used) / window)), reset, retry}
`,
  memory(state, now, { limit, windowMs: window, cost }, mode) {
    let ws = Math.floor(now / window) * window;
    const ttlMs = ws + 2 * window - now;
    if (mode === 'refund') {
      if (state?.w === ws) state = { ...state, cur: Math.max(0, state.cur - cost) };
      else if (state?.w === ws + window) state = { ...state, prev: Math.max(0, state.prev - cost) };
      return { state, ttlMs, outcome: outcome(true, 0, 0, 0) };
    }
    let cur = state?.cur ?? 0;
    let prev = state?.prev ?? 0;
    if (state && state.w > ws) ws = state.w;
    else if (state?.w === ws - window) [prev, cur] = [cur, 0];
    else if (state?.w !== ws) [prev, cur] = [0, 0];
    const elapsed = Math.max(0, now - ws);
    const used = prev * (window - elapsed) + cur * window;
    const cap = limit * window;
    const end = ws + 2 * window - now;
    if (used + cost * window <= cap) {
      const after = mode === 'consume' ? cur + cost : cur;
      const reset = after > 0 ? end : prev > 0 ? end - window : 0;
      const next = after > 0 || prev > 0 ? { w: ws, cur: after, prev } : undefined;
      return { state: next, ttlMs: end, outcome: outcome(true, Math.floor((cap - used - cost * window) / window), reset, 0) };
    }
    const spare = limit - cur - cost;
    const retry =
      spare >= 0
        ? window - Math.floor((spare * window) / prev) - elapsed
        : window - elapsed + window - Math.floor(((limit - cost) * window) / cur);
    const reset = cur > 0 ? end : end - window;
    return { state: { w: ws, cur, prev }, ttlMs: end, outcome: outcome(false, Math.floor((cap - used) / window), reset, retry) };
  },
};
