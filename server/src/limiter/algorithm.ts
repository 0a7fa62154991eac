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
 * The script's contract: KEYS[1] state key, KEYS[2] block key; ARGV now, window, limit, cost,
 * burst, member, mode (0 consume, 1 peek, 2 refund). It returns
 * {status (1 allowed, 0 denied, -1 blocked), remaining, reset_after_ms, retry_after_ms}.
 */
export interface Algorithm<S = unknown> {
  readonly name: AlgorithmName;
  /** Short suffix of the state key. */
  readonly keySuffix: string;
  /** Script body, run after the shared prelude that parses ARGV and checks the block key. */
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

/** Shared head of every script: arguments as locals, and the block check before any counting. */
export const LUA_PRELUDE = `
local ttl_slack = ${TTL_SLACK_MS}
local key = KEYS[1]
local now = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])
local burst = tonumber(ARGV[5])
local member = ARGV[6]
local mode = tonumber(ARGV[7])
if mode ~= 2 and redis.call('EXISTS', KEYS[2]) == 1 then
  return {-1, 0, 0, 0}
end
`;

export function outcome(allowed: boolean, remaining: number, resetAfterMs: number, retryAfterMs: number): LimitOutcome {
  return {
    allowed,
    blocked: false,
    remaining: Math.max(0, remaining),
    resetAfterMs: Math.max(0, Math.ceil(resetAfterMs)),
    retryAfterMs: allowed ? 0 : Math.max(0, Math.ceil(retryAfterMs)),
  };
}
