import { agedDecision, type Decision } from './decision.js';
import { FloodgateError } from './errors.js';
import { Reason, type CheckLimitRequest } from './gen/floodgate/v1/ratelimit.js';

export interface DenyCacheOptions {
  /** Most keys held at once; the oldest deny goes first (default 10000). */
  maxEntries?: number;
  /**
   * Longest a deny is held, in ms, however long its retry_after (default: no bound). The cache
   * does not hear of an admin's reset or a raised limit: this is how soon it sees them.
   */
  maxMs?: number;
}

interface Entry {
  decision: Decision;
  madeAt: number;
  until: number;
}

/**
 * Remembers over-limit denies until their retry_after passes, so a client hammering a limit is
 * answered locally instead of by an RPC each time. Keyed by policy, user, IP and cost: a deny
 * for cost 5 says nothing about cost 1. Only OVER_LIMIT denies are cached; a suspension can be
 * lifted at any moment and a degraded deny says nothing about the shared state.
 */
export class DenyCache {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;
  private readonly maxMs: number;

  constructor(
    options: DenyCacheOptions = {},
    private readonly now: () => number = Date.now,
  ) {
    this.maxEntries = options.maxEntries ?? 10_000;
    if (!Number.isInteger(this.maxEntries) || this.maxEntries < 1) {
      throw FloodgateError.invalid('denyCache.maxEntries', `must be a positive integer, got ${options.maxEntries}`);
    }
    this.maxMs = options.maxMs ?? Infinity;
    if (typeof this.maxMs !== 'number' || !(this.maxMs > 0)) throw FloodgateError.invalid('denyCache.maxMs', `must be a positive number of ms, got ${options.maxMs}`);
  }

  get size(): number {
    return this.entries.size;
  }

  /** The cached deny for this request, aged to now, or undefined. */
  get(req: Partial<CheckLimitRequest>): Decision | undefined {
    const key = cacheKey(req);
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    const now = this.now();
    if (now >= entry.until) {
      this.entries.delete(key);
      return undefined;
    }
    return agedDecision(entry.decision, now - entry.madeAt);
  }

  /** Remembers `decision` if it is a deny worth remembering. */
  remember(req: Partial<CheckLimitRequest>, decision: Decision): void {
    if (decision.allowed || decision.reason !== Reason.REASON_OVER_LIMIT || decision.retryAfterMs <= 0) return;
    const key = cacheKey(req);
    this.entries.delete(key); // re-insert at the back: Map order is age order
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    const now = this.now();
    this.entries.set(key, { decision, madeAt: now, until: now + Math.min(decision.retryAfterMs, this.maxMs) });
  }
}

function cacheKey(req: Partial<CheckLimitRequest>): string {
  // NUL cannot occur in a valid policy, user id or IP, so the parts cannot run into each other.
  return `${req.policy ?? ''}\0${req.userId ?? ''}\0${req.ip ?? ''}\0${req.cost ?? 1}`;
}
