import { describe, expect, it } from 'vitest';
import { grpcFrame, grpcUnframe } from '../../bench/grpc-body.js';
import { parseH2load } from '../../bench/h2load.js';
import { pace } from '../../bench/pace.js';
import { percentiles } from '../../bench/stats.js';
import { summarizeTraceGc } from '../../bench/trace-gc.js';

describe('bench harness', () => {
  it('frames a message as flag 0, 4-byte big-endian length, payload', () => {
    const frame = grpcFrame(Uint8Array.from([8, 1, 0x12]));
    expect([...frame]).toEqual([0, 0, 0, 0, 3, 8, 1, 0x12]);
    expect([...grpcUnframe(frame)]).toEqual([8, 1, 0x12]);
    expect(() => grpcUnframe(frame.subarray(0, 6))).toThrow(/frame says 3 bytes/);
  });

  it('parses h2load throughput and counts failures, percentiles from its log', () => {
    const stdout = [
      'finished in 1.50s, 2000.00 req/s, 80KB/s',
      'requests: 3000 total, 3000 started, 3000 done, 2998 succeeded, 2 failed, 0 errored, 0 timeout',
    ].join('\n');
    const log = Array.from({ length: 100 }, (_, i) => `1700000000000000\t${i === 7 ? 503 : 200}\t${(i + 1) * 1000}`).join('\n');
    expect(parseH2load(stdout, log)).toMatchObject({ callsPerS: 2000, done: 3000, failed: 2, p50Ms: 50, p99Ms: 99 });
    expect(() => parseH2load('connection refused', '')).toThrow(/unexpected h2load output/);
  });

  it('sums the scavenges of a --trace-gc-nvp trace, counting those that promoted over 500 KB, the full collections with their longest pause and its external-string and evacuation parts, and all pauses', () => {
    const scavenge = (promoted: number) => `[1:0x1]  21 ms: pause=0.4 mutator=18.0 gc=s reduce_memory=0 allocated=4154088 promoted=${promoted} new_space_survived=325528 promotion_rate=0.0%`;
    const trace = [
      'listening on 4000',
      scavenge(47_000),
      scavenge(1_900_000),
      '[1:0x1]  181 ms: pause=1.5 mutator=2.0 gc=mc reduce_memory=0 promoted=0',
      scavenge(600_000),
      '[1:0x1]  3130 ms: pause=19.4 mutator=15.7 gc=mc clear=9 clear.external_string_table=8.7 evacuate=8.8 evacuate.copy=7.4 promoted=0',
      '[1:0x1]  4463 ms: pause=18.4 mutator=45.2 gc=mc clear.external_string_table=8.8 evacuate.copy=7.1 evacuate=8.3',
      'something else',
    ].join('\n');
    const summary = summarizeTraceGc(trace);
    expect(summary).toMatchObject({ scavenges: 3, bad: 2, promotedBytes: 2_547_000, fullCollections: 3, longestFullMs: 19.4 });
    expect(summary.pauseMs).toBeCloseTo(40.5);
    expect(summary.externalStringsMs).toBeCloseTo(17.5);
    expect(summary.evacuateMs).toBeCloseTo(17.1);
    expect(summarizeTraceGc('')).toEqual({ scavenges: 0, bad: 0, promotedBytes: 0, fullCollections: 0, pauseMs: 0, longestFullMs: 0, externalStringsMs: 0, evacuateMs: 0 });
  });

  it('takes nearest-rank percentiles', () => {
    expect(percentiles([5, 1, 3, 2, 4])).toEqual({ p50Ms: 3, p99Ms: 5 });
    expect(percentiles(Float64Array.of(9, 1, 3, 2, 4).subarray(1))).toEqual({ p50Ms: 2, p99Ms: 4 });
  });

  it('paces every call once and waits for all of them to settle, failed ones too', async () => {
    const started: number[] = [];
    let settled = 0;
    await pace(2_000, 40, (i) => {
      started.push(i);
      return new Promise((resolve, reject) => setTimeout(() => (settled++, i % 3 ? resolve(i) : reject(new Error('no'))), 5));
    });
    expect(started).toEqual(Array.from({ length: 40 }, (_, i) => i));
    expect(settled).toBe(40);
  });
});
