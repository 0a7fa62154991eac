import { Reason, type FloodgateError } from '@floodgate/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHostPorts } from '../../server/src/store/redis-connection.js';
import { eventually } from '../support/eventually.js';
import { checkLoad } from '../support/load.js';
import { healthStatus } from '../support/probes.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { grpcStack, policy } from '../support/stack.js';

const POLICIES = [
  policy({ name: 'loc', limit: 5, failureMode: 'local', scopes: ['user'] }),
  policy({ name: 'cls', limit: 5, failureMode: 'closed', scopes: ['user'] }),
];

describe('a Redis Cluster master dying under load', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    // Its own cluster: this test kills a node.
    cluster = await RedisCluster.start();
  });
  afterAll(() => cluster?.stop());

  it('every call is still answered (by the failure modes), and Redis decides again once the node is back', async () => {
    const target = { kind: 'cluster' as const, nodes: parseHostPorts(cluster.nodes) };
    const stack = await grpcStack('cluster', '', { policies: POLICIES, target, failover: { commandTimeoutMs: 200, probeIntervalMs: 100 } });
    try {
      const traffic = checkLoad(stack.client, ['loc', 'cls']);
      await new Promise((r) => setTimeout(r, 200));

      await cluster.killNode(0);
      await eventually('NOT_SERVING', async () => (await healthStatus(stack.address)) === 'NOT_SERVING', 10_000);
      expect(await stack.client.checkLimit({ policy: 'cls', userId: 'during' })).toMatchObject({ degraded: true, reason: Reason.REASON_DEGRADED_DENY });
      // Tracking goes to the cluster directly (this stack has no buffer): it fails, but within the deadline.
      const started = performance.now();
      const tracked = await Promise.allSettled(['t1', 't2', 't3', 't4'].map((userId) => stack.client.recordActivity({ userId, activity: 'ai' })));
      expect(performance.now() - started).toBeLessThan(1_000);
      expect(tracked.some((r) => r.status === 'rejected' && (r.reason as FloodgateError).codeName === 'UNAVAILABLE')).toBe(true);

      await cluster.restartNode(0);
      await eventually('SERVING', async () => (await healthStatus(stack.address)) === 'SERVING', 30_000);
      await eventually('answers from Redis', async () => !(await stack.client.checkLimit({ policy: 'cls', userId: 'after' })).degraded, 10_000);

      const load = await traffic.stop();
      expect(load.errors).toEqual([]);
      expect(load.maxMs).toBeLessThan(1_000);
      expect(load.degraded).toBeGreaterThan(0);
    } finally {
      await stack.close();
    }
  }, 60_000);
});
