import type { CheckLimitResponse, FloodgateClient } from '@floodgate/client';

export interface Sample {
  ms: number;
  policy: string;
  res?: CheckLimitResponse;
  err?: unknown;
}

/** Concurrent callers over the given policies until stopped; records each call's latency and answer. */
export function checkLoad(client: FloodgateClient, policies: readonly string[], workers = 16) {
  const samples: Sample[] = [];
  let running = true;
  let n = 0;
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running) {
      const policy = policies[n++ % policies.length]!;
      const started = performance.now();
      try {
        const res = await client.checkLimit({ policy, userId: `load-${w}-${n % 50}` });
        samples.push({ ms: performance.now() - started, policy, res });
      } catch (err) {
        samples.push({ ms: performance.now() - started, policy, err });
      }
    }
  });
  return {
    samples,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

/** Polls `cond` until it holds (errors count as not yet). */
export async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
