import { Redis } from 'ioredis';
import { RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import { percentiles, type LoadResult } from './stats.js';

export interface InProcessRun {
  redisUrl: string;
  /** Calls kept in flight at once, like h2load's clients × streams. */
  concurrency: number;
  durationS: number;
  warmupS: number;
}

/**
 * rate-limiter-flexible's RateLimiterRedis inside this process on the same Redis: what an app
 * would use instead of a sidecar; its CPU per call is this process's. Same shape as the CheckLimit run: one key, 100 per 15 min
 * (`general`), so nearly every call is a deny that still runs its script.
 */
export async function rateLimiterFlexible(run: InProcessRun): Promise<LoadResult & { serverCpuUs: number }> {
  const redis = new Redis(run.redisUrl, { enableAutoPipelining: true, maxRetriesPerRequest: 0 });
  const limiter = new RateLimiterRedis({ storeClient: redis, points: 100, duration: 15 * 60, keyPrefix: 'bench-rlflex' });
  const latenciesMs: number[] = [];
  let done = 0;
  let failed = 0;
  let warmupCalls = 0;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const measureFrom = started + run.warmupS * 1000;
  const end = measureFrom + run.durationS * 1000;
  const worker = async () => {
    while (performance.now() < end) {
      const t0 = performance.now();
      const ok = await limiter.consume('bench-user').then(
        () => true,
        (res: unknown) => res instanceof RateLimiterRes, // a deny is a decision; an Error is not
      );
      if (t0 < measureFrom) {
        warmupCalls++;
        continue;
      }
      done++;
      if (!ok) failed++;
      latenciesMs.push(performance.now() - t0);
    }
  };
  try {
    await Promise.all(Array.from({ length: run.concurrency }, worker));
  } finally {
    redis.disconnect();
  }
  const cpu = process.cpuUsage(cpuBefore);
  const calls = done + warmupCalls;
  return { callsPerS: done / run.durationS, done, failed, serverCpuUs: (cpu.user + cpu.system) / calls, ...percentiles(latenciesMs) };
}
