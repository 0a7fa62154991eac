import { outcome, type Algorithm } from './algorithm.js';

/** Count of the window that starts at `w`. */
interface FixedState {
  w: number;
  n: number;
}

/**
 * Fixed window: one counter per aligned window (`floor(now / window) * window`). O(1) memory;
 * like Envoy's ratelimit it can admit up to 2 × limit across a window boundary.
 */
export const fixedWindow: Algorithm<FixedState> = {
  name: 'fixed_window',
  keySuffix: 'fw',
  fields: ['w', 'n'],
  lua: `
local ws = math.floor(now / window) * window
local f = get(key)
local w = tonumber(f[1])
local n = tonumber(f[2]) or 0
if mode == 2 then
  if w == ws then
    n = n - cost
    if n > 0 then save(key, nil, w, n) else drop(key) end
  end
  return {1, 0, 0, 0}
end
-- A window ahead of ours was written by a replica whose clock runs ahead: count in it.
if w ~= nil and w > ws then ws = w elseif w ~= ws then n = 0 end
local left = ws + window - now
if n + cost <= limit then
  local after = n
  if mode == 0 and cost > 0 then
    after = n + cost
    save(key, left + ttl_slack, ws, after)
  end
  local reset = 0
  if after > 0 then reset = left end
  return {1, limit - n - cost, reset, 0}
end
return {0, math.max(0, limit - n), left, left}
`,
  memory(state, now, { limit, windowMs, cost }, mode) {
    let ws = Math.floor(now / windowMs) * windowMs;
    if (mode === 'refund') {
      if (state?.w !== ws) return { state, ttlMs: ws + windowMs - now, outcome: outcome(true, 0, 0, 0) };
      const n = state.n - cost;
      return { state: n > 0 ? { w: ws, n } : undefined, ttlMs: ws + windowMs - now, outcome: outcome(true, 0, 0, 0) };
    }
    let n = state?.n ?? 0;
    if (state && state.w > ws) ws = state.w;
    else if (state?.w !== ws) n = 0;
    const left = ws + windowMs - now;
    if (n + cost <= limit) {
      const after = mode === 'consume' ? n + cost : n;
      const next = after > 0 ? { w: ws, n: after } : undefined;
      return { state: next, ttlMs: left, outcome: outcome(true, limit - n - cost, after > 0 ? left : 0, 0) };
    }
    return { state: { w: ws, n }, ttlMs: left, outcome: outcome(false, limit - n, left, left) };
  },
};
