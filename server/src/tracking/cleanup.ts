import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { TrackingStore } from './tracking-store.js';

export const CLEANUP_LOCK = 'cleanup';

export interface CleanupOptions {
  intervalMs: number;
  /** The lock outlives a crashed holder by at most this long. */
  lockTtlMs: number;
}

/**
 * Trims the global tracking indexes to the retention. Every replica runs the timer; a Redis
 * lock (SET NX PX with this runner's own token) lets one of them work at a time, and a runner
 * releases only a lock it still holds.
 */
export class TrackingCleanup {
  private readonly token = randomUUID();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: TrackingStore,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: CleanupOptions,
  ) {}

  /** One run; undefined when another runner holds the lock, else the index entries removed. */
  async runOnce(): Promise<number | undefined> {
    const now = this.clock.now();
    if (!(await this.store.tryLock(CLEANUP_LOCK, this.token, this.options.lockTtlMs, now))) return undefined;
    try {
      return await this.store.trimIndexes(now);
    } finally {
      await this.store.unlock(CLEANUP_LOCK, this.token, this.clock.now());
    }
  }

  start(): void {
    this.timer = setInterval(() => {
      this.runOnce().then(
        (removed) => this.log.info({ removed, ran: removed !== undefined }, 'tracking cleanup'),
        (err: unknown) => this.log.warn({ err }, 'tracking cleanup failed; next run in one interval'),
      );
    }, this.options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
