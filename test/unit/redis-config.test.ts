import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/src/config/env.js';

const configError = (env: Record<string, string>) => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return { variable: err.variable, message: err.message };
    throw err;
  }
  throw new Error('expected a ConfigError');
};

describe('Redis topology and shutdown configuration', () => {
  it('reads a single server, a Sentinel master or a Cluster', () => {
    expect(loadConfig({}).redisTarget).toBeUndefined();
    expect(loadConfig({ REDIS_URL: 'redis://h:1' }).redisTarget).toEqual({ kind: 'single', url: 'redis://h:1' });
    expect(loadConfig({ REDIS_CLUSTER_NODES: '10.0.0.1:7000, [::1]:7001,redis-2:7002' }).redisTarget).toEqual({
      kind: 'cluster',
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: '::1', port: 7001 },
        { host: 'redis-2', port: 7002 },
      ],
    });
    expect(loadConfig({ REDIS_SENTINELS: 's1:26379,s2:26379', REDIS_SENTINEL_NAME: 'main' }).redisTarget).toEqual({
      kind: 'sentinel',
      sentinels: [
        { host: 's1', port: 26379 },
        { host: 's2', port: 26379 },
      ],
      name: 'main',
    });
    expect(loadConfig({ REDIS_TLS: 'true', REDIS_PASSWORD: 'pw', REDIS_SENTINEL_PASSWORD: 'spw' })).toMatchObject({
      redisTls: true,
      redisPassword: 'pw',
      redisSentinelPassword: 'spw',
    });
  });

  it('names the variable of every bad value', () => {
    expect(configError({ REDIS_CLUSTER_NODES: 'a:1,b' }).variable).toBe('REDIS_CLUSTER_NODES');
    expect(configError({ REDIS_CLUSTER_NODES: 'a:70000' }).variable).toBe('REDIS_CLUSTER_NODES');
    expect(configError({ REDIS_SENTINELS: 'a:1' }).variable).toBe('REDIS_SENTINEL_NAME');
    expect(configError({ REDIS_SENTINEL_NAME: 'm' }).variable).toBe('REDIS_SENTINEL_NAME');
    expect(configError({ REDIS_URL: 'redis://h:1', REDIS_CLUSTER_NODES: 'a:1' }).message).toMatch(/only one of REDIS_URL, REDIS_CLUSTER_NODES/);
    expect(configError({ REDIS_TLS: 'yes' }).variable).toBe('REDIS_TLS');
    expect(configError({ SHUTDOWN_DRAIN_MS: '5000', SHUTDOWN_GRACE_MS: '5000' }).variable).toBe('SHUTDOWN_GRACE_MS');
    expect(configError({ REDIS_PROBE_INTERVAL_MS: '0' }).variable).toBe('REDIS_PROBE_INTERVAL_MS');
    expect(configError({ REDIS_FAILURE_THRESHOLD: '0' }).variable).toBe('REDIS_FAILURE_THRESHOLD');
    expect(configError({ REDIS_FAILURE_THRESHOLD: 'three' }).variable).toBe('REDIS_FAILURE_THRESHOLD');
  });

  it('defaults to a 5 s drain inside a 30 s grace period', () => {
    expect(loadConfig({})).toMatchObject({ shutdownDrainMs: 5_000, shutdownGraceMs: 30_000, redisProbeIntervalMs: 1_000, redisFailureThreshold: 3 });
  });
});
