/**
 * Deadlines of one length, added in the order they fall due: one timer, for the earliest, instead
 * of one per check (a timer per check was 190 B allocated and a place in Node's timer list, at
 * tens of thousands of checks a second). Ids and times live in typed arrays, so the deadlines of
 * checks answered long before them leave nothing for the garbage collector to trace. Answered
 * checks leave from the front as new ones come (two for each one added) and whenever the timer
 * fires, so the timer waits for the oldest check still unanswered, about a deadline away, rather
 * than waking for every answered check's deadline (a wake-up a millisecond under a steady rate).
 * The timer does not keep the process alive: what is pending keeps its stream, and so the
 * process, alive.
 */
export class DeadlineQueue {
  private ids = new Uint32Array(64);
  private at = new Float64Array(64);
  private head = 0;
  private size = 0;
  private timer: NodeJS.Timeout | undefined;

  /**
   * `expired` runs for each id whose deadline has passed, with that deadline, unless `settled`
   * says by then that the id no longer needs it (answered).
   */
  constructor(
    private readonly expired: (id: number, deadlineAt: number) => void,
    private readonly settled: (id: number, deadlineAt: number) => boolean = () => false,
  ) {}

  /** `deadlineAt` (performance.now() time) must not be before the last one added. */
  add(id: number, deadlineAt: number): void {
    if (this.size === this.ids.length) this.grow();
    const i = (this.head + this.size) & (this.ids.length - 1);
    this.ids[i] = id;
    this.at[i] = deadlineAt;
    this.size++;
    this.dropSettled(2);
    if (!this.timer && this.size > 0) this.arm();
  }

  clear(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.size = 0;
  }

  private arm(): void {
    // Timers may fire a fraction of a millisecond early; the sweep re-arms for what is not due.
    this.timer = setTimeout(this.sweep, Math.max(1, Math.ceil(this.at[this.head]! - performance.now())));
    this.timer.unref();
  }

  private readonly sweep = (): void => {
    this.timer = undefined;
    const now = performance.now();
    for (this.dropSettled(Infinity); this.size > 0 && this.at[this.head]! <= now; this.dropSettled(Infinity)) {
      const id = this.ids[this.head]!;
      const at = this.at[this.head]!;
      this.shift();
      this.expired(id, at);
    }
    if (this.size > 0 && !this.timer) this.arm();
  };

  /** Drops up to `max` ids from the front that `settled` says no longer need their deadline. */
  private dropSettled(max: number): void {
    for (let n = 0; n < max && this.size > 0 && this.settled(this.ids[this.head]!, this.at[this.head]!); n++) this.shift();
  }

  private shift(): void {
    this.head = (this.head + 1) & (this.ids.length - 1);
    this.size--;
  }

  /** Twice the room, the deadlines in order from index 0 (the length stays a power of two). */
  private grow(): void {
    const ids = new Uint32Array(this.ids.length * 2);
    const at = new Float64Array(this.at.length * 2);
    for (let k = 0; k < this.size; k++) {
      const i = (this.head + k) & (this.ids.length - 1);
      ids[k] = this.ids[i]!;
      at[k] = this.at[i]!;
    }
    this.ids = ids;
    this.at = at;
    this.head = 0;
  }
}
