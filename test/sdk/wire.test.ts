import { CheckLimitRequest, CheckLimitsResponse, GetStatisticsResponse, Reason, Scope, type CheckLimitsResponse as Batch } from '@floodgate/client';
import { decodeMessage, encodeMessage, MessageRun, type Decoder } from '@floodgate/client/wire';
import { describe, expect, it } from 'vitest';
import { seededRandom } from '../support/seeded.js';

/** The generated serializer's bytes: what every protobuf decoder is known to read. */
const reference = (m: Batch) => Buffer.from(CheckLimitsResponse.encode(m).finish());

const U64_EDGES = [0, 1, 127, 128, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 1_795_670_157_981, Number.MAX_SAFE_INTEGER];

function batch(values: number[], limit = 10): Batch {
  return {
    results: values.map((v, i) => ({
      response: {
        allowed: i % 2 === 0,
        reason: Reason.REASON_OK,
        policy: `p${i}`,
        statuses: [{ scope: Scope.SCOPE_USER, limit, remaining: i, windowMs: v, resetAfterMs: v, retryAfterMs: U64_EDGES.at(-1 - (i % U64_EDGES.length))!, allowed: true }],
        degraded: false,
        shadow: false,
        wouldAllow: true,
      },
      error: undefined,
    })),
  };
}

/** Every message `bytes` cut short is read by decodeMessage as the generated decoder reads it: the same value, or the same error. */
function expectEveryCutReadAsGenerated<T>(type: Decoder<T>, bytes: Uint8Array): void {
  for (let end = 1; end < bytes.length; end++) {
    const cut = bytes.subarray(0, end);
    let expected: unknown;
    try {
      expected = type.decode(cut);
    } catch (err) {
      expected = err;
    }
    if (expected instanceof Error) expect(() => decodeMessage(type, cut)).toThrow(expected.message);
    else expect(decodeMessage(type, cut)).toEqual(expected);
  }
}

describe('encodeMessage (the reused writer both the server and the SDK encode with)', () => {
  it('writes the bytes the generated serializer writes, uint64 values on both sides of 2^32 included', () => {
    for (const values of [U64_EDGES, [...U64_EDGES].reverse(), [], [60_000]]) {
      const m = batch(values);
      const bytes = encodeMessage(CheckLimitsResponse, m);
      expect(bytes.equals(reference(m))).toBe(true);
      expect(CheckLimitsResponse.decode(bytes)).toEqual(m);
    }
  });

  it('gives each message bytes of its own: an earlier result is not overwritten by the next encode', () => {
    const [a, b] = [batch([1, 2, 3]), batch([2 ** 40, 5])];
    const first = encodeMessage(CheckLimitsResponse, a);
    encodeMessage(CheckLimitsResponse, b);
    expect(first.equals(reference(a))).toBe(true);
  });

  it('throws on a value its field cannot hold, and the next message is encoded whole', () => {
    expect(() => encodeMessage(CheckLimitsResponse, batch([1, 2], -1))).toThrow(/uint32/);
    const m = batch([7, 2 ** 33]);
    expect(encodeMessage(CheckLimitsResponse, m).equals(reference(m))).toBe(true);
  });

  it('leaves int64 fields and other messages as the generated code writes them', () => {
    const m = GetStatisticsResponse.fromPartial({ usersTracked: 2 ** 32 + 3, activeLastHour: 5, dailyActiveUsers: [{ periodStartMs: -5, users: 2 ** 34, atMs: 1_795_670_157_981 }] } as never);
    expect(encodeMessage(GetStatisticsResponse, m).equals(Buffer.from(GetStatisticsResponse.encode(m).finish()))).toBe(true);
  });
});

describe('decodeMessage (how the SDK reads every answer)', () => {
  /** A one-answer batch whose uint64 fields all hold `v`, as the generated serializer writes it (it takes bigints too). */
  const u64 = (v: number | bigint) => {
    const m = batch([0]);
    Object.assign(m.results[0]!.response!.statuses[0]!, { windowMs: v, resetAfterMs: v, retryAfterMs: v });
    return Buffer.from(CheckLimitsResponse.encode(m).finish());
  };

  it('reads what the generated decoder reads, uint64 values of every varint length included', () => {
    const around = U64_EDGES.flatMap((v) => [v, v - 1, v + 1].filter((x) => x >= 0 && x <= Number.MAX_SAFE_INTEGER));
    const lengths = Array.from({ length: 8 }, (_, k) => [2 ** (7 * (k + 1)) - 1, 2 ** (7 * (k + 1))]).flat().filter((x) => x <= Number.MAX_SAFE_INTEGER);
    for (const values of [U64_EDGES, [...U64_EDGES].reverse(), around, lengths, []]) {
      const bytes = reference(batch(values));
      const read = decodeMessage(CheckLimitsResponse, bytes);
      expect(read).toEqual(CheckLimitsResponse.decode(bytes));
      expect(read).toEqual(batch(values));
    }
  });

  it('fails as the generated decoder does past 2^53 and on a message cut short', () => {
    const big = u64(2n ** 60n);
    expect(() => CheckLimitsResponse.decode(big)).toThrow(/MAX_SAFE_INTEGER/);
    expect(() => decodeMessage(CheckLimitsResponse, big)).toThrow(/MAX_SAFE_INTEGER/);
    expectEveryCutReadAsGenerated(CheckLimitsResponse, u64(2 ** 40));
  });
});

describe('decodeMessage strings (short ASCII ones read lately are reused)', () => {
  it('reads every string as the generated decoder does: repeated, colliding in its slots, long, empty, non-ASCII', () => {
    const next = seededRandom(7);
    const random = (n: number) => Math.floor(next() * n);
    const word = () => Array.from({ length: random(72) }, () => String.fromCharCode(32 + random(95))).join('');
    // Thousands of strings over a thousand slots: most slots are met by several of them.
    const words = [...Array.from({ length: 4_000 }, word), '', 'general', 'ünïcödé', 'a'.repeat(64), 'a'.repeat(65), '€'];
    for (let pass = 0; pass < 3; pass++) {
      for (let i = 0; i < words.length; i++) {
        const m = CheckLimitRequest.fromPartial({ policy: words[i]!, userId: words[(i * 7) % words.length]!, ip: words[random(words.length)]! });
        const bytes = CheckLimitRequest.encode(m).finish();
        expect(decodeMessage(CheckLimitRequest, bytes)).toEqual(CheckLimitRequest.decode(bytes));
      }
    }
  });

  it('fails as the generated decoder does on a string cut short', () => {
    expectEveryCutReadAsGenerated(CheckLimitRequest, CheckLimitRequest.encode(CheckLimitRequest.fromPartial({ policy: 'general', userId: 'u-1' })).finish());
  });
});

describe('MessageRun (how the SDK joins a turn\'s checks into one message)', () => {
  /** Each answer of `m` as a message of its own. */
  const single = (m: Batch) => m.results.map((r) => ({ results: [r] }));

  it('joins messages of one record each into the bytes of the message holding them all', () => {
    const run = new MessageRun();
    expect(run.take()).toBeUndefined();
    const m = batch(U64_EDGES);
    for (const one of single(m)) run.append(CheckLimitsResponse, one);
    expect(run.take()!.equals(reference(m))).toBe(true);
    expect(run.take()).toBeUndefined();
  });

  it('leaves what it handed out as it was while more is appended, past the end of its chunks', () => {
    const run = new MessageRun();
    const first = batch([1, 2, 3]);
    for (const one of single(first)) run.append(CheckLimitsResponse, one);
    const taken = run.take()!;
    // Far more than a chunk holds, with something not yet taken at every move to a new chunk.
    const later = batch(Array.from({ length: 3_000 }, (_, i) => i * 1_000_003));
    const parts: Buffer[] = [];
    single(later).forEach((one, i) => {
      run.append(CheckLimitsResponse, one);
      if (i % 700 === 699) parts.push(run.take()!);
    });
    parts.push(run.take()!);
    expect(taken.equals(reference(first))).toBe(true);
    expect(Buffer.concat(parts).equals(reference(later))).toBe(true);
    expect(CheckLimitsResponse.decode(Buffer.concat(parts)).results).toHaveLength(3_000);
  });

  it('appends nothing for a message that cannot be encoded, and drops what clear() is told to', () => {
    const run = new MessageRun();
    const good = batch([5]);
    run.append(CheckLimitsResponse, good);
    expect(() => run.append(CheckLimitsResponse, batch([6], -1))).toThrow(/uint32/);
    expect(run.take()!.equals(reference(good))).toBe(true);
    run.append(CheckLimitsResponse, good);
    run.clear();
    expect(run.take()).toBeUndefined();
    run.append(CheckLimitsResponse, good);
    expect(run.take()!.equals(reference(good))).toBe(true);
  });
});
