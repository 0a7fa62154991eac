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
  /**
   * From then on, while the entry still holds, the next request of its cost goes to the store
   * once, so that its answer renews the entry before it runs out (see refreshAhead).
   */
  refreshAt: number;
}

/**
 * How long before an entry capped at `maxMs` runs out one request renews it: long enough for a
 * store call on a loaded replica to come back in time (a few ms, tens at worst).
 */
export function refreshAhead(maxMs: number): number {
  return Math.min(maxMs / 4, 100);
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
 *
 * An entry capped at `maxMs` (its retry time is later) is renewed a little before it runs out by
 * the one request that comes first then, while the others go on being answered here. Left to
 * run out, every request of a flood that arrived while the renewing store call was out would go
 * to the store too, and wait for it.
 * An entry that holds until the retry time is not renewed: from then on the store may allow.
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
    if (now >= e.refreshAt) {
      // This request goes to the store and its answer replaces the entry; once only.
      e.refreshAt = Infinity;
      return undefined;
    }
    return { allowed: false, blocked: false, remaining: e.remaining, resetAfterMs: Math.max(0, e.resetAt - now), retryAfterMs: e.retryAt - now };
  }

  /**
   * Remembers an over-limit answer from the store. Anything else is not kept, and an allowed one
   * (which may have consumed: a later retry time, fewer remaining) drops what was kept of its key.
   * An answer by a failure mode says nothing of the key: what was kept still holds until it ends
   * (and is not renewed again), so an outage does not end it early.
   */
  remember(call: LimitCall, policy: Policy, o: StoreOutcome, now: number): void {
    if (o.degraded !== undefined) return;
    this.entries.delete(call.key);
    if (o.allowed || o.blocked || o.retryAfterMs <= 0) return;
    if (this.entries.size >= this.o.maxKeys) this.entries.delete(this.entries.keys().next().value!);
    const retryAt = now + o.retryAfterMs;
    const capped = retryAt > now + this.o.maxMs;
    const until = capped ? now + this.o.maxMs : retryAt;
    this.entries.set(call.key, {
      policy,
      cost: call.args.cost,
      remaining: o.remaining,
      resetAt: now + o.resetAfterMs,
      retryAt,
      until,
      refreshAt: capped ? until - refreshAhead(this.o.maxMs) : Infinity,
    });
  }

  /** Forgets every entry of one subject (its hash tag, e.g. `{u:alice}`). */
  forget(tag: string): void {
    for (const key of this.entries.keys()) if (hashTagOf(key) === tag) this.entries.delete(key);
  }
}
