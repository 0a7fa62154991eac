import { Reason } from '@floodgate/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseHostPorts } from '../../server/src/store/redis-connection.js';
import { checkLoad, until } from '../support/load.js';
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
      await until('NOT_SERVING', async () => (await healthStatus(stack.address)) === 'NOT_SERVING');
      expect(await stack.client.checkLimit({ policy: 'cls', userId: 'during' })).toMatchObject({ degraded: true, reason: Reason.REASON_DEGRADED_DENY });

      await cluster.restartNode(0);
      await until('SERVING', async () => (await healthStatus(stack.address)) === 'SERVING', 30_000);
      await until('answers from Redis', async () => !(await stack.client.checkLimit({ policy: 'cls', userId: 'after' })).degraded);

      const samples = await traffic.stop();
      expect(samples.filter((s) => s.err).map((s) => String(s.err))).toEqual([]);
      expect(Math.max(...samples.map((s) => s.ms))).toBeLessThan(1_000);
      expect(samples.some((s) => s.res!.degraded)).toBe(true);
    } finally {
      await stack.close();
    }
  }, 60_000);
});
