import type { Logger } from '../log.js';
import type { FallbackObserver } from '../metrics/observers.js';
import type { FailureMode } from '../policy/policy.js';
import { Relay, tell } from '../sink.js';
import type { Settled, SettledSink } from './coalescer.js';
import { isUnavailable, limitOf, SLOT_MOVING, type LimitCall, type OutcomeSink, type Store, type StoreOutcome } from './store.js';

/**
 * A shared store that can tell whether its connection is up (ioredis status 'ready'). It bounds
 * its own calls: one not answered within its timeout fails UNAVAILABLE.
 */
export interface SharedStore extends Store {
  readonly connected: boolean;
  /** Each key's outcome, or the error that kept the store from deciding it. */
  limitEach(calls: readonly LimitCall[], now: number, sink: SettledSink): void;
}

export interface FailoverStoreOptions {
  /** The shared store (Redis). */
  primary: SharedStore;
  /** The per-process store that enforces `local` policies while the primary is unreachable. */
  local: Store;
  /** How often to ping the primary while it is unreachable. */
  probeIntervalMs: number;
  /**
   * Consecutive failed calls, with the connection still up, after which the primary is declared
   * unreachable; any answered call resets the count. A lost connection declares it at once.
   */
  failureThreshold: number;
  log: Logger;
  /** Called when the primary becomes unreachable (false) and when it answers again (true). */
  onAvailabilityChange?: (available: boolean) => void;
  /** Told how many keys each fallback decided, by failure mode (metrics). */
  fallbacks?: FallbackObserver;
}

/**
 * Redis first; when a Redis call fails, that call's failure mode decides: `local` runs the same
 * algorithm on the in-process store, `open` allows, `closed` denies, all marked degraded.
 * A circuit breaker: one slow reply (event-loop lag past the command timeout) only degrades its
 * own call. Redis is declared unreachable when the connection is lost or after
 * `failureThreshold` consecutive failures; from then on every call goes straight to the
 * fallback (no call waits for a timeout again) until a background ping finds Redis answering.
 */
export class FailoverStore implements Store {
  private up = true;
  private consecutiveFailures = 0;
  private probe: NodeJS.Timeout | undefined;
  private probing = false;

  constructor(private readonly o: FailoverStoreOptions) {}

  get kind() {
    return this.o.primary.kind;
  }

  /** False while calls are decided by the failure modes instead of the shared store. */
  get available(): boolean {
    return this.up;
  }

  /** A failure replaces only the outcomes of the keys it kept from Redis. */
  limit(calls: readonly LimitCall[], now: number, sink: OutcomeSink): void {
    if (this.up) return this.o.primary.limitEach(calls, now, new WithFallbacks(this, calls, now, sink));
    tell(this.fallback(calls, now), sink);
  }

  /**
   * The outcomes when every key was decided by Redis; else a promise of them with the failed keys'
   * fallbacks (for WithFallbacks).
   */
  withFallbacks(calls: readonly LimitCall[], settled: Array<StoreOutcome | Error>, now: number): StoreOutcome[] | Promise<StoreOutcome[]> {
    let failed: number[] | undefined;
    for (let i = 0; i < settled.length; i++) {
      const s = settled[i]!;
      if (!(s instanceof Error)) continue;
      if (!isUnavailable(s)) throw s;
      (failed ??= []).push(i);
    }
    if (!failed || failed.length < calls.length) this.consecutiveFailures = 0;
    if (!failed) return settled as StoreOutcome[];
    // A Cluster slot being moved refuses its keys' scripts while Redis serves every other key:
    // those calls take their failure mode, but say nothing about Redis as a whole.
    const counted = failed.filter((i) => !SLOT_MOVING.test((settled[i] as Error).message));
    if (counted.length) this.failed(settled[counted[0]!] as Error, counted.length);
    return this.fallback(
      failed.map((i) => calls[i]!),
      now,
    ).then((replaced) => {
      failed.forEach((i, j) => (settled[i] = replaced[j]!));
      return settled as StoreOutcome[];
    });
  }

  async ping(): Promise<number> {
    return this.o.primary.ping();
  }

  async close(): Promise<void> {
    clearInterval(this.probe);
    await Promise.all([this.o.primary.close(), this.o.local.close()]);
  }

  private async fallback(calls: readonly LimitCall[], now: number): Promise<StoreOutcome[]> {
    const local = calls.filter((c) => c.failureMode === 'local');
    if (this.o.fallbacks) {
      const keys: Record<FailureMode, number> = { local: 0, open: 0, closed: 0 };
      for (const c of calls) keys[c.failureMode]++;
      for (const mode of ['local', 'open', 'closed'] as const) if (keys[mode]) this.o.fallbacks.fallback(mode, keys[mode]);
    }
    const localOutcomes = local.length ? await limitOf(this.o.local, local, now) : [];
    let next = 0;
    return calls.map((call): StoreOutcome => {
      switch (call.failureMode) {
        case 'local': {
          // Field by field: a spread copy that gains a field gets a new hidden class per call in
          // V8 (see grpc/response-options.ts), and this runs for every check of an outage.
          const o = localOutcomes[next++]!;
          return { allowed: o.allowed, blocked: o.blocked, remaining: o.remaining, resetAfterMs: o.resetAfterMs, retryAfterMs: o.retryAfterMs, degraded: 'local' };
        }
        case 'open':
          // Nothing is known about usage: report the whole limit as remaining.
          return { allowed: true, blocked: false, remaining: call.args.limit, resetAfterMs: 0, retryAfterMs: 0, degraded: 'open' };
        case 'closed':
          // Retry hint: the next probe of Redis.
          return { allowed: false, blocked: false, remaining: 0, resetAfterMs: 0, retryAfterMs: this.o.probeIntervalMs, degraded: 'closed' };
      }
    });
  }

  /** Counts `count` failed calls; trips the breaker on a lost connection or at the threshold. */
  private failed(err: Error, count: number): void {
    this.consecutiveFailures += count;
    if (!this.up) return;
    const lost = !this.o.primary.connected;
    if (!lost && this.consecutiveFailures < this.o.failureThreshold) {
      this.o.log.debug({ err: err.message, consecutiveFailures: this.consecutiveFailures }, 'shared store call failed: answered by its failure mode');
      return;
    }
    this.up = false;
    this.o.log.warn(
      { err: err.message, connectionLost: lost, consecutiveFailures: this.consecutiveFailures },
      'shared store unreachable: deciding by each policy\'s failure mode',
    );
    this.o.onAvailabilityChange?.(false);
    this.probe = setInterval(() => void this.probeOnce(), this.o.probeIntervalMs);
    this.probe.unref();
  }

  private async probeOnce(): Promise<void> {
    if (this.probing) return;
    this.probing = true;
    try {
      await this.o.primary.ping();
      clearInterval(this.probe);
      this.probe = undefined;
      this.up = true;
      this.consecutiveFailures = 0;
      this.o.log.info('shared store reachable again: back to Redis');
      this.o.onAvailabilityChange?.(true);
    } catch {
      // Still down; the next tick tries again.
    } finally {
      this.probing = false;
    }
  }
}

/** A call's outcomes from Redis, with fallbacks for the keys Redis did not decide, to its sink. */
class WithFallbacks extends Relay<Settled[], StoreOutcome[]> {
  constructor(
    private readonly store: FailoverStore,
    private readonly calls: readonly LimitCall[],
    private readonly now: number,
    sink: OutcomeSink,
  ) {
    super(sink);
  }

  protected produce(settled: Settled[]): StoreOutcome[] | Promise<StoreOutcome[]> {
    return this.store.withFallbacks(this.calls, settled, this.now);
  }
}
