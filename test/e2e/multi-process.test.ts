import { createClient } from '@floodgate/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ServerProcess } from '../support/server-process.js';
import { uniquePrefix } from '../support/stack.js';

const TOPOLOGIES: Array<[string, Record<string, string>]> = [
  ['one Redis', { REDIS_URL: inject('redisUrl') }],
  ['a 3-master Redis Cluster', { REDIS_CLUSTER_NODES: inject('redisClusterNodes') }],
];

describe.each(TOPOLOGIES)('three Floodgate processes on %s', (_name, redisEnv) => {
  let servers: ServerProcess[] = [];
  beforeAll(async () => {
    const env = { ...redisEnv, REDIS_KEY_PREFIX: uniquePrefix() };
    servers = await Promise.all([0, 1, 2].map(() => ServerProcess.start(env)));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.stop()));
  });

  it('admit exactly the limit of 20 among 300 concurrent calls for one user', async () => {
    const clients = servers.map((s) => createClient({ address: s.address, deadlineMs: 10_000 }));
    try {
      const results = await Promise.all(
        Array.from({ length: 300 }, (_, i) => clients[i % 3]!.checkLimit({ policy: 'ai', userId: 'the-one-user' })),
      );
      expect(results.filter((r) => r.allowed)).toHaveLength(20);
      expect(results.filter((r) => !r.allowed).every((r) => r.statuses[0]!.retryAfterMs > 0)).toBe(true);
      // Every process shares the same view afterwards.
      for (const c of clients) {
        const status = await c.getLimitStatus({ userId: 'the-one-user' });
        expect(status.policies.find((p) => p.policy!.name === 'ai')!.statuses[0]!.remaining).toBe(0);
      }
    } finally {
      for (const c of clients) c.close();
    }
  });
});
