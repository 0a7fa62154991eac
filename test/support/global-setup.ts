import type { TestProject } from 'vitest/node';
import { RedisCluster } from './redis-cluster.js';
import { RedisServer } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /** REDIS_CLUSTER_NODES of a 3-master cluster on loopback. */
    redisClusterNodes: string;
  }
}

/**
 * One redis-server for the whole run, unless REDIS_URL points at one already; and one 3-master
 * Redis Cluster, unless REDIS_CLUSTER_NODES points at one.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const [redis, cluster] = await Promise.all([
    process.env.REDIS_URL ? undefined : RedisServer.start(),
    process.env.REDIS_CLUSTER_NODES ? undefined : RedisCluster.start(),
  ]);
  project.provide('redisUrl', process.env.REDIS_URL ?? redis!.url);
  project.provide('redisClusterNodes', process.env.REDIS_CLUSTER_NODES ?? cluster!.nodes);
  return async () => {
    await Promise.all([redis?.stop(), cluster?.stop()]);
  };
}
