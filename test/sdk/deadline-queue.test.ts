import { afterEach, describe, expect, it, vi } from 'vitest';
import { DeadlineQueue } from '../../client-sdk/src/deadline-queue.js';
import { eventually } from '../support/eventually.js';

describe('DeadlineQueue', () => {
  afterEach(() => vi.restoreAllMocks());

  it('expires every id once, in order, no earlier than its deadline, across wrap-around and growth', async () => {
    const expired: Array<{ id: number; late: number }> = [];
    const queue = new DeadlineQueue((id, deadlineAt) => expired.push({ id, late: performance.now() - deadlineAt }));
    const start = performance.now();
    for (let id = 1; id <= 40; id++) queue.add(id, start + 20);
    await eventually('the first 40', () => expired.length === 40);
    // The ring's head has moved on: these wrap around its end, then outgrow it.
    const later = performance.now();
    for (let id = 41; id <= 300; id++) queue.add(id, later + 20 + Math.floor(id / 100));
    await eventually('all 300', () => expired.length === 300);
    expect(expired.map((e) => e.id)).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
    expect(Math.min(...expired.map((e) => e.late))).toBeGreaterThanOrEqual(0);
  });

  it('expires nothing after clear()', async () => {
    const expired: number[] = [];
    const queue = new DeadlineQueue((id) => expired.push(id));
    queue.add(1, performance.now() + 10);
    queue.clear();
    await new Promise((r) => setTimeout(r, 40));
    expect(expired).toEqual([]);
    queue.add(2, performance.now() + 10);
    await eventually('the one added after', () => expired.length === 1);
    expect(expired).toEqual([2]);
  });

  it('never expires an id settled before its deadline, and sleeps until the oldest one still unsettled', async () => {
    const answered = new Set<number>();
    const expired: number[] = [];
    const queue = new DeadlineQueue(
      (id) => expired.push(id),
      (id) => answered.has(id),
    );
    const timers = vi.spyOn(globalThis, 'setTimeout');
    // A steady rate: a check a millisecond, each answered at once except id 150.
    const start = performance.now();
    for (let id = 1; id <= 200; id++) {
      queue.add(id, start + 100 + id);
      if (id !== 150) answered.add(id);
      await new Promise((r) => setImmediate(r));
    }
    await eventually('id 150 expired', () => expired.length === 1);
    expect(expired).toEqual([150]);
    // A timer per deadline passing would be one a millisecond here; the queue needs a handful.
    const armed = timers.mock.calls.filter(([fn]) => fn === (queue as unknown as { sweep: unknown }).sweep).length;
    expect(armed).toBeLessThanOrEqual(5);
  });
});
