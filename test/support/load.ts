import type { FloodgateClient } from '@floodgate/client';

/** What a load run saw; aggregated, so a long run holds no per-call data. */
export interface LoadSummary {
  calls: number;
  /** The first few failures (a call that got no answer). */
  errors: string[];
  maxMs: number;
  /** Calls that took at least `slowMs`. */
  slow: number;
  degraded: number;
  fromRedis: number;
  /** Whether the last answered call was degraded. */
  lastDegraded: boolean;
}

/** Concurrent callers over the given policies until stopped; records each call's latency and answer. */
export function checkLoad(client: FloodgateClient, policies: readonly string[], opts: { workers?: number; slowMs?: number } = {}) {
  const s: LoadSummary = { calls: 0, errors: [], maxMs: 0, slow: 0, degraded: 0, fromRedis: 0, lastDegraded: false };
  let running = true;
  let n = 0;
  const loops = Array.from({ length: opts.workers ?? 16 }, async (_, w) => {
    while (running) {
      const policy = policies[n++ % policies.length]!;
      const started = performance.now();
      try {
        const res = await client.checkLimit({ policy, userId: `load-${w}-${n % 50}` });
        if (res.degraded) s.degraded++;
        else s.fromRedis++;
        s.lastDegraded = res.degraded;
      } catch (err) {
        if (s.errors.length < 20) s.errors.push(String(err));
      }
      const ms = performance.now() - started;
      s.calls++;
      s.maxMs = Math.max(s.maxMs, ms);
      if (ms >= (opts.slowMs ?? Infinity)) s.slow++;
    }
  });
  return {
    stop: async (): Promise<LoadSummary> => {
      running = false;
      await Promise.all(loops);
      return s;
    },
  };
}
