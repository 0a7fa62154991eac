import { createClient, type Check } from '@floodgate/client';
import type { Redis } from 'ioredis';
import { usedMemory } from './redis-info.js';

export interface MemoryResult {
  users: number;
  bytesPerUser: number;
  keysPerUser: number;
  /** OBJECT ENCODING of one user's state key, e.g. listpack. */
  encoding: string;
  /** Growth when each user then records one activity (TrackingService); undefined when not served. */
  trackingBytesPerUser?: number;
}

const BATCH = 500;

/**
 * Redis memory per active user with the default policies: each user makes one request under
 * every policy with its own user id and IP (so one user key and one IP key per policy), and
 * the growth of INFO memory's used_memory is divided by the number of users.
 */
export async function memoryPerUser(opts: { address: string; redis: Redis; users: number; policies: string[]; tracking: boolean }): Promise<MemoryResult> {
  const client = createClient({ address: opts.address, deadlineMs: 30_000 });
  const checks: Check[] = [];
  for (let u = 0; u < opts.users; u++) {
    for (const policy of opts.policies) checks.push({ policy, userId: `mem-user-${u}`, ip: ipOf(u) });
  }
  const keysBefore = await opts.redis.dbsize();
  const before = await usedMemory(opts.redis);
  try {
    for (let i = 0; i < checks.length; i += BATCH) {
      const { results } = await client.checkLimits({ checks: checks.slice(i, i + BATCH) });
      const bad = results.find((r) => !r.response?.allowed || r.response.degraded);
      if (bad) throw new Error(`memory run: a first request was not allowed by Redis: ${JSON.stringify(bad)}`);
    }
    const after = await usedMemory(opts.redis);
    const keys = (await opts.redis.dbsize()) - keysBefore;
    const [sample] = await opts.redis.keys('*{u:mem-user-0}:rl:*');
    const result: MemoryResult = {
      users: opts.users,
      bytesPerUser: Math.round((after - before) / opts.users),
      keysPerUser: keys / opts.users,
      encoding: sample ? String(await opts.redis.object('ENCODING', sample)) : 'none',
    };
    if (!opts.tracking) return result;
    for (let u = 0; u < opts.users; u += BATCH) {
      const batch = Array.from({ length: Math.min(BATCH, opts.users - u) }, (_, i) => u + i);
      await Promise.all(batch.map((n) => client.recordActivity({ userId: `mem-user-${n}`, activity: 'ai', ip: ipOf(n) })));
    }
    result.trackingBytesPerUser = Math.round(((await usedMemory(opts.redis)) - after) / opts.users);
    return result;
  } finally {
    client.close();
  }
}

/** A distinct IPv4 address per user in 10.0.0.0/8. */
function ipOf(u: number): string {
  return `10.${(u >> 16) & 255}.${(u >> 8) & 255}.${u & 255}`;
}
