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
 * Any other sends its reads of the key through read(id, command, key, ...), its writes through
 * write(command, key, ...) and its trims of a sorted set through trim_scores(key, bound); TTLs
 * it sets with redis.call.
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
 * On a key more than one decision of the call is on (a hot key under a flood), a hash state is
 * read once and written once at the end of the call, and any other state's reads are answered
 * from the call's memory until a write to the key: its decisions cost Lua arithmetic, not
 * several Redis commands each. What Redis holds afterwards is what the decisions one by one
 * would have left (the last values and TTL written; a deletion, then what was written after
 * it). A lone decision's commands go straight to Redis, as keeping them would cost more than it
 * saves; a call of one decision runs the script made with `manyDecisions` false, which keeps
 * nothing. The block key is still asked once per decision: Redis's own count of EXISTS is how
 * the benchmarks prove who decided.
 */
export function scriptOf(algorithm: Pick<Algorithm, 'lua' | 'fields'>, manyDecisions: boolean): string {
  const fields = algorithm.fields;
  const helpers = fields ? hashState(fields, manyDecisions) : memoizedReads(manyDecisions);
  return `
local ttl_slack = ${TTL_SLACK_MS}
${manyDecisions ? 'local shared = {}' : ''}
${helpers}
local function decide(key, block, now, window, limit, cost, burst, member, mode)
  if mode ~= 2 and block and redis.call('EXISTS', block) == 1 then
    return {-1, 0, 0, 0}
  end
${algorithm.lua}
end
local d = cmsgpack.unpack(ARGV[1])
${manyDecisions ? SHARED_KEYS : ''}
local out = {}
for i = 1, #d / ${VALUES_PER_DECISION} do
  local a = (i - 1) * ${VALUES_PER_DECISION}
  local r = decide(KEYS[d[a + 1]], KEYS[d[a + 2]], d[a + 3], d[a + 4], d[a + 5], d[a + 6], d[a + 7], d[a + 8], d[a + 9])
  local o = (i - 1) * 4
  out[o + 1], out[o + 2], out[o + 3], out[o + 4] = r[1], r[2], r[3], r[4]
end
${fields && manyDecisions ? 'write_back()' : ''}
return out
`;
}

/** Marks in `shared` the keys more than one decision of the call is on. */
const SHARED_KEYS = `
local seen = {}
for i = 1, #d, ${VALUES_PER_DECISION} do
  local key = KEYS[d[i]]
  if seen[key] then shared[key] = true else seen[key] = true end
end`;

/**
 * read/write/trim_scores over the call's memory of each shared key: a read's answer is kept
 * under the id the body gives it (the same id at an unchanged state must mean the same answer)
 * until a write to the key. For a lone decision (or a key no other decision is on) they are
 * Redis's commands themselves.
 */
function memoizedReads(manyDecisions: boolean): string {
  const direct = `
local function write(command, key, ...)
  ${manyDecisions ? 'answers[key] = nil' : ''}
  return redis.call(command, key, ...)
end
local function trim_direct(key, bound) return redis.call('ZREMRANGEBYSCORE', key, '-inf', bound) end`;
  if (!manyDecisions) {
    return `${direct}
local function read(id, command, key, ...) return redis.call(command, key, ...) end
local trim_scores = trim_direct`;
  }
  return `
local answers = {}${direct}
local function known_of(key)
  local known = answers[key]
  if not known then
    known = {}
    answers[key] = known
  end
  return known
end
local function read(id, command, key, ...)
  if not shared[key] then return redis.call(command, key, ...) end
  local known = known_of(key)
  local answer = known[id]
  if answer == nil then
    answer = redis.call(command, key, ...)
    known[id] = answer
  end
  return answer
end
-- Removes a sorted set's entries scored at or below bound; a repeat at an unchanged state removes nothing.
local function trim_scores(key, bound)
  if not shared[key] then return trim_direct(key, bound) end
  if answers[key] and answers[key].trimmed == bound then return 0 end
  local removed = trim_direct(key, bound)
  if removed > 0 then answers[key] = nil end
  known_of(key).trimmed = bound
  return removed
end`;
}

/**
 * get/save/drop over the call's copy of each shared key's hash, and write_back, which stores the
 * copies changed. For a lone decision (or a key no other decision is on) they read, write and
 * delete the hash at once.
 */
function hashState(fields: readonly string[], manyDecisions: boolean): string {
  const values = fields.map((_, i) => `v${i + 1}`).join(', ');
  const direct = `
local function hmget(key) return redis.call('HMGET', key, ${fields.map((f) => `'${f}'`).join(', ')}) end
local function store(key, ttl, ${values})
  redis.call('HSET', key, ${fields.map((f, i) => `'${f}', v${i + 1}`).join(', ')})
  -- nil keeps the key's TTL: only refunds, which never recreate a key, pass it.
  if ttl then redis.call('PEXPIRE', key, ttl) end
end
local function del(key) redis.call('DEL', key) end`;
  if (!manyDecisions) return `${direct}
local get, save, drop = hmget, store, del`;
  return `${direct}
local states = {}
local touched = {}
local function get(key)
  if not shared[key] then return hmget(key) end
  local s = states[key]
  if not s then
    s = {f = hmget(key)}
    states[key] = s
    touched[#touched + 1] = key
  end
  return s.f
end
local function save(key, ttl, ${values})
  if not shared[key] then return store(key, ttl, ${values}) end
  local s = states[key]
  s.f = {${values}}
  s.dirty = true
  if ttl then s.ttl = ttl end
end
local function drop(key)
  if not shared[key] then return del(key) end
  local s = states[key]
  s.f = {}
  s.dirty = false
  s.deleted = true
  s.ttl = nil
end
local function write_back()
  for _, key in ipairs(touched) do
    local s = states[key]
    if s.deleted then del(key) end
    if s.dirty then store(key, s.ttl, unpack(s.f, 1, ${fields.length})) end
  end
end`;
}

/** A subject whose block key exists (suspended): denied, nothing counted. */
export const BLOCKED: LimitOutcome = { allowed: false, blocked: true, remaining: 0, resetAfterMs: 0, retryAfterMs: 0 };

export function outcome(allowed: boolean, remaining: number, resetAfterMs: number, retryAfterMs: number): LimitOutcome {
  return {
    allowed,
    blocked: false,
    remaining: Math.max(0, remaining),
    resetAfterMs: Math.max(0, Math.ceil(resetAfterMs)),
    retryAfterMs: allowed ? 0 : Math.max(0, Math.ceil(retryAfterMs)),
  };
}
