import type { Policy } from '../policy/policy.js';
import { hashTagOf } from '../store/keys.js';
import type { LimitCall, StoreOutcome } from '../store/store.js';
import type { LimitOutcome } from './algorithm.js';

interface Entry {
  /** The policy object the deny was made under: a reload makes new ones, so old entries stop matching. */
  policy: Policy;
  cost: number;
  remaining: number;
  resetAt: number;
  /** When a request of `cost` can first be allowed; the entry holds until then (or `maxMs`). */
  retryAt: number;
  until: number;
}

export interface DenyCacheOptions {
  /** Longest a deny is repeated without asking Redis; bounds how stale a reset on another replica leaves it. */
  maxMs: number;
  /** Past this many keys the oldest entries go, so memory stays bounded. */
  maxKeys: number;
}

/**
 * Keys known to be over their limit, kept in-process until their retry time (capped at `maxMs`).
 * Until then a request of the same cost is denied without a Redis call: a key's load only falls
 * with time and only admissions raise it, so Redis would deny it too. A flood on one user or IP,
 * the load a rate limiter exists for, then costs Redis one script call per key per retry time
 * instead of one per request. An admission on the key here (a smaller cost that fits) drops its
 * entry; one on another replica can only make the true retry time later and the remaining count
 * lower than the repeated answer says, never turn the deny into an allow. Admin resets and
 * suspensions on this replica forget the subject's entries; a policy reload retires all of them;
 * on other replicas they run out within `maxMs`.
 */
export class DenyCache {
  private readonly entries = new Map<string, Entry>();
  /** Requests answered from the cache. */
  private hitCount = 0;

  get hits(): number {
    return this.hitCount;
  }

  constructor(private readonly o: DenyCacheOptions) {}

  get size(): number {
    return this.entries.size;
  }

  /**
   * The cached denies of a request's state keys, when every key has one (a request is answered
   * here only whole); counted as one hit.
   */
  answer(keys: readonly string[], cost: number, policy: Policy, now: number): LimitOutcome[] | undefined {
    if (keys.length === 0) return undefined;
    const outcomes: LimitOutcome[] = [];
    for (const key of keys) {
      const o = this.get(key, cost, policy, now);
      if (!o) return undefined;
      outcomes.push(o);
    }
    this.hitCount++;
    return outcomes;
  }

  /** The cached deny of a state key at `now`, when one holds for this cost under `policy`. */
  get(key: string, cost: number, policy: Policy, now: number): LimitOutcome | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (now >= e.until || e.policy !== policy) {
      this.entries.delete(key);
      return undefined;
    }
    // Another cost has another retry time (a larger one needs more units freed).
    if (cost !== e.cost) return undefined;
    return { allowed: false, blocked: false, remaining: e.remaining, resetAfterMs: Math.max(0, e.resetAt - now), retryAfterMs: e.retryAt - now };
  }

  /**
   * Remembers an over-limit answer from the store. Anything else is not kept, and an allowed one
   * (which may have consumed: a later retry time, fewer remaining) drops what was kept of its key.
   */
  remember(call: LimitCall, policy: Policy, o: StoreOutcome, now: number): void {
    this.entries.delete(call.key);
    if (o.allowed || o.blocked || o.degraded !== undefined || o.retryAfterMs <= 0) return;
    if (this.entries.size >= this.o.maxKeys) this.entries.delete(this.entries.keys().next().value!);
    const retryAt = now + o.retryAfterMs;
    this.entries.set(call.key, {
      policy,
      cost: call.args.cost,
      remaining: o.remaining,
      resetAt: now + o.resetAfterMs,
      retryAt,
      until: Math.min(retryAt, now + this.o.maxMs),
    });
  }

  /** Forgets every entry of one subject (its hash tag, e.g. `{u:alice}`). */
  forget(tag: string): void {
    for (const key of this.entries.keys()) if (hashTagOf(key) === tag) this.entries.delete(key);
  }
}
