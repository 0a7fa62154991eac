import { Redis } from 'ioredis';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { packArray } from '../../server/src/store/msgpack.js';

const redis = new Redis(inject('redisUrl'));
afterAll(() => redis.quit());

/** What Redis's own cmsgpack.unpack makes of the packed values: each one's Lua type and exact value. */
async function unpackedByRedis(values: Array<number | string>): Promise<Array<number | string>> {
  const reply = (await redis.eval(
    `local t = cmsgpack.unpack(ARGV[1])
     local out = {}
     for i = 1, #t do
       local v = t[i]
       out[i] = type(v) == 'number' and ('n' .. string.format('%.17g', v)) or ('s' .. v)
     end
     return out`,
    0,
    packArray(values),
  )) as string[];
  return reply.map((r) => (r.startsWith('n') ? Number(r.slice(1)) : r.slice(1)));
}

describe('the packed script argument, as Redis decodes it', () => {
  it('keeps every integer size class exact, up to a millisecond clock and beyond 2^32', async () => {
    const numbers = [0, 1, 127, 128, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, 1_795_670_157_981, Number.MAX_SAFE_INTEGER];
    expect(await unpackedByRedis(numbers)).toEqual(numbers);
  });

  it('keeps fractions and negative numbers (sent as doubles)', async () => {
    const numbers = [0.5, 1_795_670_157_981.25, -1, -(2 ** 40), 1e-9];
    expect(await unpackedByRedis(numbers)).toEqual(numbers);
  });

  it('keeps strings of every length class, UTF-8 and empty ones included', async () => {
    const strings = ['', 'a', 'x'.repeat(31), 'y'.repeat(32), 'z'.repeat(255), 'w'.repeat(256), 'v'.repeat(70_000), 'üñí©ødé ✓', '0123', 'a1b2.3f'];
    expect(await unpackedByRedis(strings)).toEqual(strings);
  });

  it('keeps the order and length of arrays of every header size, numbers and strings mixed', async () => {
    for (const n of [0, 1, 15, 16, 900, 65_535, 65_536]) {
      const values = Array.from({ length: n }, (_, i) => (i % 3 === 2 ? `m${i}` : i * 1_000_003));
      expect(await unpackedByRedis(values)).toEqual(values);
    }
  });
});
