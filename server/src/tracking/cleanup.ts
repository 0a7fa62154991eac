import { randomUUID } from 'node:crypto';
import type { Clock } from '../clock.js';
import type { Logger } from '../log.js';
import type { TrackingStore } from './tracking-store.js';

export const CLEANUP_LOCK = 'cleanup';

export interface CleanupOptions {
  intervalMs: number;
  /** The lock outlives a crashed holder by at most this long. */
  lockTtlMs: number;
  /**
   * The first run comes at a random moment within this long of start (default a minute, or the
   * interval if shorter): spread, so that replicas rolled out together do not all ask at once.
   */
  firstRunWithinMs?: number;
}

/**
 * Trims the global tracking indexes to the retention. Every replica runs the timer; a Redis
 * lock (SET NX PX with this runner's own token) lets one of them work at a time, and a runner
 * releases only a lock it still holds.
 */
export class TrackingCleanup {
  private readonly token = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private first: NodeJS.Timeout | undefined;

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

  /**
   * Runs soon after start as well as every interval: replicas that restart more often than the
   * interval (rolling deploys, autoscaling) would otherwise never trim the indexes.
   */
  start(): void {
    const run = () => {
      this.runOnce().then(
        (removed) => this.log.info({ removed, ran: removed !== undefined }, 'tracking cleanup'),
        (err: unknown) => this.log.warn({ err }, 'tracking cleanup failed; next run in one interval'),
      );
    };
    this.first = setTimeout(run, Math.random() * Math.min(this.options.intervalMs, this.options.firstRunWithinMs ?? 60_000)).unref();
    this.timer = setInterval(run, this.options.intervalMs).unref();
  }

  stop(): void {
    clearTimeout(this.first);
    clearInterval(this.timer);
  }
}
