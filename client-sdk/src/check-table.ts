/** Slots a new table starts with: a power of two. */
const INITIAL_SLOTS = 64;

/**
 * The checks in flight on one check stream, by id: a ring of slots indexed by the id's low bits,
 * which doubles once half full. The stream gives each new check an id whose slot is free
 * (`free`), so a slot holds one check at most and a lookup is one read. Against StreamTable (a
 * number dictionary, which V8 grows, rehashes and shrinks as checks come and go: about 160 bytes
 * of garbage per check): nothing allocated per check once the table has grown to the checks in
 * flight. Not a Map, for the reason StreamTable gives.
 */
export class CheckTable<V> {
  private ids = new Uint32Array(INITIAL_SLOTS);
  private slots = new Array<V | undefined>(INITIAL_SLOTS).fill(undefined);
  size = 0;

  get(id: number): V | undefined {
    const i = id & (this.slots.length - 1);
    return this.ids[i] === id ? this.slots[i] : undefined;
  }

  /** Whether `id` can be set without taking another check's slot. */
  free(id: number): boolean {
    return this.slots[id & (this.slots.length - 1)] === undefined;
  }

  /** Sets a check under an id that is `free`, or replaces the one under the same id. */
  set(id: number, value: V): void {
    if (2 * (this.size + 1) > this.slots.length) this.grow();
    const i = id & (this.slots.length - 1);
    if (this.slots[i] === undefined) this.size++;
    else if (this.ids[i] !== id) throw new Error(`check id ${id}: its slot holds check ${this.ids[i]}`);
    this.ids[i] = id;
    this.slots[i] = value;
  }

  delete(id: number): boolean {
    const i = id & (this.slots.length - 1);
    if (this.ids[i] !== id || this.slots[i] === undefined) return false;
    this.slots[i] = undefined;
    this.size--;
    return true;
  }

  forEach(fn: (value: V, id: number) => void): void {
    const { ids, slots } = this;
    for (let i = 0; i < slots.length; i++) {
      const value = slots[i];
      if (value !== undefined) fn(value, ids[i]!);
    }
  }

  /**
   * Twice the slots. A check at slot i moves to i or i + the old length, so checks never meet,
   * and an id whose slot was free before is free after.
   */
  private grow(): void {
    const { ids, slots } = this;
    this.ids = new Uint32Array(2 * slots.length);
    this.slots = new Array<V | undefined>(2 * slots.length).fill(undefined);
    const mask = this.slots.length - 1;
    for (let i = 0; i < slots.length; i++) {
      if (slots[i] === undefined) continue;
      const j = ids[i]! & mask;
      this.ids[j] = ids[i]!;
      this.slots[j] = slots[i];
    }
  }
}
