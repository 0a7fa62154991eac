import { describe, expect, it } from 'vitest';
import { soak } from '../support/soak.js';

// The short variant of `npm run soak` (docs/reliability.md): what it asserts does not depend on speed.
describe('a short soak of mixed load on a real process', () => {
  it('answers every call, and Redis never holds more keys than the population can fill', async () => {
    const users = 300;
    const ips = 100;
    const r = await soak({ durationMs: 8_000, sampleEveryMs: 1_000, workers: 8, users, ips });
    expect(r.unexpectedErrors).toEqual([]);
    expect(r.calls).toBeGreaterThan(500);
    // No per-request key survives (refund members, batch bookkeeping): keys are per subject and policy.
    for (const s of r.samples) expect(s.redisKeys).toBeLessThanOrEqual(r.keyBound);
    expect(r.samples.at(-1)!.redisKeys).toBeGreaterThan(0);
  }, 60_000);
});
