import { describe, expect, it } from 'vitest';
import { ChildCache } from '../../server/src/metrics/metrics.js';

describe('ChildCache', () => {
  it('makes the child of each label pair once and keeps it', () => {
    const made: string[] = [];
    const cache = new ChildCache((a, b) => {
      made.push(`${a}/${b}`);
      return { a, b };
    });
    const first = cache.get('p', 1);
    expect(cache.get('p', 1)).toBe(first);
    expect(cache.get('p', 2)).not.toBe(first);
    expect(cache.get('q', 1)).toEqual({ a: 'q', b: 1 });
    expect(made).toEqual(['p/1', 'p/2', 'q/1']);
    expect([...cache.values()]).toHaveLength(3);
  });

  it('past its bound makes a child per call and keeps none (unknown method paths cannot grow it)', () => {
    const cache = new ChildCache((a) => ({ a }), 2);
    cache.get('a', '');
    cache.get('b', '');
    expect(cache.get('c', '')).not.toBe(cache.get('c', ''));
    expect(cache.get('a', '')).toBe(cache.get('a', ''));
    expect([...cache.values()].map((c) => c.a)).toEqual(['a', 'b']);
  });
});
