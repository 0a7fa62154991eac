import type { Clock } from '../clock.js';
import { BLOCKED, type LimitOutcome } from '../limiter/algorithm.js';
import type { LimitCall, OutcomeSink, Store } from './store.js';

interface Entry {
  value: unknown;
  expiresAt: number;
}

export interface MemoryStoreOptions {
  /** Past this many keys the oldest-written ones are evicted, so memory stays bounded. */
  maxKeys?: number;
  sweepIntervalMs?: number;
}

/**
 * In-process store: the zero-setup default and the per-replica fallback. Same semantics as
 * Redis for one process; every key expires, and the key count is capped.
 */
export class MemoryStore implements Store {
  readonly kind = 'memory' as const;
  private readonly data = new Map<string, Entry>();
  private readonly maxKeys: number;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly clock: Clock,
    options: MemoryStoreOptions = {},
  ) {
    this.maxKeys = options.maxKeys ?? 1_000_000;
    this.sweeper = setInterval(() => this.sweep(), options.sweepIntervalMs ?? 10_000);
    this.sweeper.unref();
  }

  get size(): number {
    return this.data.size;
  }

  /** Decided at once, as Redis would at the moment of the call; told to the sink after this returns. */
  limit(calls: readonly LimitCall[], now: number, sink: OutcomeSink): void {
    let outcomes: LimitOutcome[];
    try {
      outcomes = calls.map((call) => {
        if (call.mode !== 'refund' && this.get(call.blockKey, now) !== undefined) return BLOCKED;
        const result = call.algorithm.memory(this.get(call.key, now), now, call.args, call.mode);
        this.put(call.key, result.state, now + result.ttlMs);
        return result.outcome;
      });
    } catch (err) {
      return queueMicrotask(() => sink.failed(err));
    }
    queueMicrotask(() => sink.done(outcomes));
  }

  async ping(): Promise<number> {
    return 0;
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.data.clear();
  }

  get(key: string, now: number): unknown {
    const entry = this.data.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt <= now) {
      this.data.delete(key);
      return undefined;
    }
    return entry.value;
  }

  /** Deletes the key; true when it held a live value. */
  delete(key: string, now: number): boolean {
    const existed = this.get(key, now) !== undefined;
    this.data.delete(key);
    return existed;
  }

  /** Stores `value` until `expiresAt` (Infinity: permanent); undefined deletes. */
  put(key: string, value: unknown, expiresAt: number): void {
    this.data.delete(key);
    if (value === undefined) return;
    this.data.set(key, { value, expiresAt });
    if (this.data.size > this.maxKeys) {
      const oldest = this.data.keys().next().value;
      if (oldest !== undefined) this.data.delete(oldest);
    }
  }

  private sweep(): void {
    const now = this.clock.now();
    for (const [key, entry] of this.data) if (entry.expiresAt <= now) this.data.delete(key);
  }
}
