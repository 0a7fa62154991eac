import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { LATENCY_BUCKETS, Metrics } from '../../server/src/metrics/metrics.js';

const lines = (body: string, name: string) => body.split('\n').filter((l) => l.startsWith(name));

describe('latency histograms counted in the server and handed to prom-client at scrape time', () => {
  it('expose exactly what prom-client’s own histogram exposes for the same observations', async () => {
    const metrics = new Metrics();
    const registry = new Registry();
    const reference = (name: string, help: string, labelNames: string[]) => new Histogram({ name, help, labelNames, buckets: LATENCY_BUCKETS, registers: [registry] });
    const rpc = reference('floodgate_rpc_duration_seconds', 'gRPC call latency by method and status code', ['method', 'code']);
    const redis = reference('floodgate_redis_command_duration_seconds', 'Redis command and script latency by command', ['command']);
    // On every bound, just over it, past the last one, and zero; two label sets each.
    const values = [0, ...LATENCY_BUCKETS.flatMap((b) => [b, b * 1.01]), 7, 0.0003, 0.0003];
    for (const [i, seconds] of values.entries()) {
      const code = i % 3 === 0 ? 14 : 0;
      metrics.rpc('/floodgate.v1.RateLimitService/CheckLimit', code, seconds);
      rpc.observe({ method: 'floodgate.v1.RateLimitService/CheckLimit', code: code ? 'UNAVAILABLE' : 'OK' }, seconds);
      const command = i % 2 ? 'fg_sliding_log' : 'ping';
      metrics.redisCommand(command, seconds, false);
      redis.observe({ command }, seconds);
    }
    const ours = (await metrics.expose()).body;
    const theirs = await registry.metrics();
    for (const name of ['floodgate_rpc_duration_seconds', 'floodgate_redis_command_duration_seconds']) {
      expect(lines(ours, name)).toHaveLength(2 * (LATENCY_BUCKETS.length + 3));
      expect(lines(ours, name)).toEqual(lines(theirs, name));
    }
    // Scraped again after more observations: counted on, not reset.
    metrics.rpc('/floodgate.v1.RateLimitService/CheckLimit', 0, 0.002);
    rpc.observe({ method: 'floodgate.v1.RateLimitService/CheckLimit', code: 'OK' }, 0.002);
    expect(lines((await metrics.expose()).body, 'floodgate_rpc_duration_seconds')).toEqual(lines(await registry.metrics(), 'floodgate_rpc_duration_seconds'));
  });
});
