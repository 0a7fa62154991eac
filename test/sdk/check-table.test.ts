import { describe, expect, it } from 'vitest';
import { CheckTable } from '../../client-sdk/src/check-table.js';
import { seededRandom } from '../support/seeded.js';

describe('CheckTable (the checks in flight on a check stream)', () => {
  it('holds what a Map would over a long run of checks taken and answered out of order, ids wrapping past 2^32', () => {
    const table = new CheckTable<string>();
    const model = new Map<number, string>();
    let next = 0xffffff00;
    const random = seededRandom(42);
    for (let step = 0; step < 50_000; step++) {
      if (model.size < 2_000 && random() < 0.55) {
        do next = (next + 1) >>> 0;
        while (!table.free(next));
        expect(model.has(next)).toBe(false);
        table.set(next, `check ${next}`);
        model.set(next, `check ${next}`);
      } else if (model.size > 0) {
        const ids = [...model.keys()];
        const id = ids[Math.floor(random() * ids.length)]!;
        expect(table.delete(id)).toBe(true);
        expect(table.delete(id)).toBe(false);
        model.delete(id);
      }
      if (step % 997 === 0) {
        expect(table.size).toBe(model.size);
        const seen = new Map<number, string>();
        table.forEach((value, id) => seen.set(id, value));
        expect(seen).toEqual(model);
        for (const [id, value] of model) expect(table.get(id)).toBe(value);
      }
    }
    expect(next).toBeLessThan(0xffffff00);
  });

  it('answers nothing for an id whose slot holds another check, and refuses to set over it', () => {
    const table = new CheckTable<string>();
    table.set(5, 'five');
    // 64 slots to start with: 69 shares 5's slot.
    expect(table.free(69)).toBe(false);
    expect(table.get(69)).toBeUndefined();
    expect(table.delete(69)).toBe(false);
    expect(() => table.set(69, 'sixty-nine')).toThrow(/slot holds check 5/);
    table.set(5, 'FIVE');
    expect(table.get(5)).toBe('FIVE');
    expect(table.size).toBe(1);
  });

  it('keeps every check where get() finds it as it grows, and an id free before growing free after', () => {
    const table = new CheckTable<number>();
    // 32 checks in the 64 slots to start with, each in a slot of its own, at ids that part when the table doubles.
    const ids = Array.from({ length: 32 }, (_, i) => i + 64 * (i % 3));
    for (const id of ids) table.set(id, id);
    expect(table.free(40)).toBe(true);
    table.set(40, -1);
    for (const id of ids) expect(table.get(id)).toBe(id);
    expect(table.get(40)).toBe(-1);
    expect(table.size).toBe(33);
    // 128 slots now: 40 + 64 has a slot of its own, and 0 + 128 shares 0's.
    expect(table.free(104)).toBe(true);
    expect(table.free(128)).toBe(false);
  });
});
