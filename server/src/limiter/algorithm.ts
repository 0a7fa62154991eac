import type { AlgorithmName } from '../policy/policy.js';

/** consume: decide and spend; peek: decide only; refund: give back what `member` consumed. */
export type Mode = 'consume' | 'peek' | 'refund';

export interface LimitArgs {
  limit: number;
  windowMs: number;
  cost: number;
  /** token_bucket capacity; the others ignore it. */
  burst: number;
  /** Unique id of the request, so a consumption can be refunded exactly. */
  member: string;
}

export interface LimitOutcome {
  allowed: boolean;
  /** The subject's block key exists (suspended); nothing was counted. */
  blocked: boolean;
  remaining: number;
  resetAfterMs: number;
  retryAfterMs: number;
}

export interface MemoryResult<S> {
  /** The new state; undefined deletes the key. */
  state: S | undefined;
  ttlMs: number;
  outcome: LimitOutcome;
}

/**
 * One rate-limit algorithm, in two implementations with the same semantics: a Lua script that
 * runs atomically in Redis, and a function over in-process state for the memory store.
 *
 * The body's contract (see scriptOf): locals key, now, window, limit, cost, burst, member, mode
 * (0 consume, 1 peek, 2 refund) and the upvalue ttl_slack; it returns
 * {status (1 allowed, 0 denied, -1 blocked), remaining, reset_after_ms, retry_after_ms}. An
 * algorithm whose state is one hash names its `fields` and never touches the hash itself: it reads
 * with get(key) (the fields' values in that order, as HMGET gives them), writes with
 * save(key, ttl_ms or nil, values...) (nil keeps the key's TTL) and deletes with drop(key).
 */
export interface Algorithm<S = unknown> {
  readonly name: AlgorithmName;
  /** Short suffix of the state key. */
  readonly keySuffix: string;
  /** The hash fields of the state, for an algorithm whose state is one hash (see above). */
  readonly fields?: readonly string[];
  /** Body of one decision, run after the block key check (see scriptOf). */
  readonly lua: string;
  memory(state: S | undefined, now: number, args: LimitArgs, mode: Mode): MemoryResult<S>;
}

export const MODE_CODE: Record<Mode, number> = { consume: 0, peek: 1, refund: 2 };

/**
 * Added to every Redis TTL. Scripts decide by the server's clock, Redis expires keys by its own:
 * without slack, a key whose state is needed for 1 more ms (a fixed window ending now) could
 * vanish before the next request, or early on a Redis clock running ahead, and its count be lost.
 */
export const TTL_SLACK_MS = 1_000;

/** Values per decision in a script call's packed argument (see scriptOf). */
export const VALUES_PER_DECISION = 9;

/**
 * The script of an algorithm: its body becomes a function of one decision, run for every
 * decision of the call in order. KEYS holds each key the call touches once; ARGV[1] is one
 * MessagePack array (store/msgpack.ts) of 9 values per decision: the KEYS indexes of its state
 * key and block key (0: none, the caller checked it), then now, window, limit, cost, burst,
 * member and mode. The reply is 4 numbers per decision. Several decisions on keys of one hash
 * tag thus run as one script call, atomically and in arrival order (see store/coalescer.ts).
 *
 * A hash state is read once per key and call and written once at its end, whatever the number
 * of decisions on it: a hot key's decisions cost Redis Lua arithmetic, not four commands each.
 * What Redis holds afterwards is what the decisions one by one would have left (the last values
 * and TTL written; a deletion, then what was written after it). The block key is still asked
 * once per decision: Redis's own count of EXISTS is how the benchmarks prove who decided.
 */
export function scriptOf(algorithm: Pick<Algorithm, 'lua' | 'fields'>): string {
  const fields = algorithm.fields;
  return `
local ttl_slack = ${TTL_SLACK_MS}
${fields ? hashState(fields) : ''}
local function decide(key, block, now, window, limit, cost, burst, member, mode)
  if mode ~= 2 and block and redis.call('EXISTS', block) == 1 then
    return {-1, 0, 0, 0}
  end
${algorithm.lua}
end
local d = cmsgpack.unpack(ARGV[1])
local out = {}
for i = 1, #d / ${VALUES_PER_DECISION} do
  local a = (i - 1) * ${VALUES_PER_DECISION}
  local r = decide(KEYS[d[a + 1]], KEYS[d[a + 2]], d[a + 3], d[a + 4], d[a + 5], d[a + 6], d[a + 7], d[a + 8], d[a + 9])
  local o = (i - 1) * 4
  out[o + 1], out[o + 2], out[o + 3], out[o + 4] = r[1], r[2], r[3], r[4]
end
${fields ? 'write_back()' : ''}
return out
`;
}

/** get/save/drop over a per-call copy of each hash state, and write_back, which stores the copies changed. */
function hashState(fields: readonly string[]): string {
  return `
local fields = {${fields.map((f) => `'${f}'`).join(', ')}}
local states = {}
local touched = {}
local function get(key)
  local s = states[key]
  if not s then
    s = {f = redis.call('HMGET', key, unpack(fields))}
    states[key] = s
    touched[#touched + 1] = key
  end
  return s.f
end
local function save(key, ttl, ...)
  local s = states[key]
  s.f = {...}
  s.dirty = true
  if ttl then s.ttl = ttl end
end
local function drop(key)
  local s = states[key]
  s.f = {}
  s.dirty = false
  s.deleted = true
  s.ttl = nil
end
local function write_back()
  for _, key in ipairs(touched) do
    local s = states[key]
    if s.deleted then redis.call('DEL', key) end
    if s.dirty then
      local args = {}
      for i = 1, #fields do
        if s.f[i] then
          args[#args + 1] = fields[i]
          args[#args + 1] = s.f[i]
        end
      end
      redis.call('HSET', key, unpack(args))
      -- Bodies save a recreated key with a TTL: only a refund keeps the one it has.
      if s.ttl then redis.call('PEXPIRE', key, s.ttl) end
    end
  end
end`;
}

export function outcome(allowed: boolean, remaining: number, resetAfterMs: number, retryAfterMs: number): LimitOutcome {
  return {
    allowed,
    blocked: false,
    remaining: Math.max(0, remaining),
    resetAfterMs: Math.max(0, Math.ceil(resetAfterMs)),
    retryAfterMs: allowed ? 0 : Math.max(0, Math.ceil(retryAfterMs)),
  };
}
