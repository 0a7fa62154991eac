import type { Logger } from '../log.js';
import { isUnavailable } from '../store/store.js';

/** written: in the store now; buffered: held until the store answers; dropped: the buffer was full. */
export type RecordResult = 'written' | 'buffered' | 'dropped';

export interface ActivityBufferOptions {
  /** Most writes held at once; past it new writes are dropped (and counted). */
  capacity: number;
  /** How often held writes are retried. */
  retryIntervalMs: number;
  log: Logger;
}

type Write = () => Promise<void>;

/**
 * Tracking writes while Redis is unreachable: held in arrival order, at most `capacity` of them,
 * and written when Redis answers again. While anything is held, new writes queue behind it, so
 * no caller waits on a dead store and the order is kept.
 */
export class ActivityBuffer {
  private readonly pending: Write[] = [];
  private droppedTotal = 0;
  private droppedSinceFlush = 0;
  private retry: NodeJS.Timeout | undefined;
  private flushing = false;

  constructor(private readonly o: ActivityBufferOptions) {}

  /** Writes held now. */
  get size(): number {
    return this.pending.length;
  }

  /** Writes dropped since start because the buffer was full. */
  get dropped(): number {
    return this.droppedTotal;
  }

  async write(w: Write): Promise<RecordResult> {
    if (this.pending.length === 0) {
      try {
        await w();
        return 'written';
      } catch (err) {
        if (!isUnavailable(err)) throw err;
      }
    }
    if (this.pending.length >= this.o.capacity) {
      this.droppedTotal++;
      // One line when an outage starts dropping; the count of the rest comes with the flush.
      if (this.droppedSinceFlush++ === 0) {
        this.o.log.warn({ capacity: this.o.capacity, droppedTotal: this.droppedTotal }, 'tracking buffer full: dropping activity until Redis is back');
      }
      return 'dropped';
    }
    this.pending.push(w);
    this.retry ??= setInterval(() => void this.flush(), this.o.retryIntervalMs).unref();
    return 'buffered';
  }

  /** Writes what is held, in order; stops at the first write the store cannot take yet. */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    let written = 0;
    try {
      while (this.pending.length > 0) {
        try {
          await this.pending[0]!();
          written++;
        } catch (err) {
          if (isUnavailable(err)) return;
          this.o.log.error({ err }, 'held tracking write failed for good: dropped');
          this.droppedTotal++;
          this.droppedSinceFlush++;
        }
        this.pending.shift();
      }
      clearInterval(this.retry);
      this.retry = undefined;
      this.o.log.info({ written, dropped: this.droppedSinceFlush }, 'tracking buffer written to the store');
      this.droppedSinceFlush = 0;
    } finally {
      this.flushing = false;
    }
  }

  close(): void {
    clearInterval(this.retry);
  }
}
