import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadStandaloneGatewayConfig } from '../../server/src/config/env.js';

const configError = (env: Record<string, string>, load: (env: Record<string, string>) => unknown = loadConfig) => {
  try {
    load(env);
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

describe('REDIS_URL', () => {
  it('carries the database of its path (or db= query) to the connection, and none when it names none', () => {
    expect(loadConfig({ REDIS_URL: 'redis://127.0.0.1:6379/3' }).redisTarget).toEqual({ kind: 'single', url: 'redis://127.0.0.1:6379/3', db: 3 });
    expect(loadConfig({ REDIS_URL: 'rediss://:pw@redis.example:6380/0' }).redisTarget).toEqual({ kind: 'single', url: 'rediss://:pw@redis.example:6380/0', db: 0 });
    expect(loadConfig({ REDIS_URL: 'redis://h:1?db=5' }).redisTarget).toEqual({ kind: 'single', url: 'redis://h:1?db=5', db: 5 });
    expect(loadConfig({ REDIS_URL: 'redis://h:1/' }).redisTarget).toEqual({ kind: 'single', url: 'redis://h:1/' });
    expect(loadConfig({ REDIS_URL: 'redis://user:p%40ss@[::1]:6379' }).redisTarget).toEqual({ kind: 'single', url: 'redis://user:p%40ss@[::1]:6379' });
    // An index the server lacks (Redis has 16 by default) can only be refused at connect.
    expect(loadConfig({ REDIS_URL: 'redis://h:1/99' }).redisTarget).toMatchObject({ db: 99 });
  });

  it.each([
    ['redis://127.0.0.1:abc', /not a valid URL/],
    ['redis://127.0.0.1:70000', /not a valid URL/],
    ['redis://127.0.0.1:6379/abc', /whole number 0 or above, got "abc"/],
    ['redis://127.0.0.1:6379/-1', /whole number 0 or above, got "-1"/],
    ['redis://127.0.0.1:6379/1.5', /whole number/],
    ['redis://127.0.0.1:6379/1/2', /whole number/],
    ['redis://127.0.0.1:6379?db=x', /db=/],
    ['http://x', /must start with redis:\/\/ or rediss:\/\//],
  ])('refuses %s naming REDIS_URL', (url, problem) => {
    const err = configError({ REDIS_URL: url });
    expect(err.variable).toBe('REDIS_URL');
    expect(err.message).toMatch(problem);
  });

  it('never repeats the URL in its message: it can hold a password', () => {
    expect(configError({ REDIS_URL: 'redis://:s3cret@h:abc' }).message).not.toContain('s3cret');
    expect(configError({ REDIS_URL: 'redis://:s3cret@h:1/x' }).message).not.toContain('s3cret');
  });
});

describe('bind addresses and host:port', () => {
  it('takes IPs and host names for GRPC_HOST and HTTP_HOST, and refuses what only looks like an IP', () => {
    for (const host of ['0.0.0.0', '127.0.0.1', '::', '::1', 'localhost', 'floodgate-0.floodgate.svc']) {
      expect(loadConfig({ GRPC_HOST: host, HTTP_HOST: host })).toMatchObject({ grpcHost: host, httpHost: host });
    }
    for (const host of ['999.0.0.1', '1.2.3', '::g', 'a b', 'h:1']) {
      expect(configError({ GRPC_HOST: host }).variable).toBe('GRPC_HOST');
      expect(configError({ HTTP_HOST: host }).variable).toBe('HTTP_HOST');
    }
  });

  it('refuses a FLOODGATE_GRPC_ADDRESS or a Redis node whose port is outside 1-65535', () => {
    expect(loadStandaloneGatewayConfig({ FLOODGATE_GRPC_ADDRESS: '[::1]:65535' }).grpcAddress).toBe('[::1]:65535');
    for (const address of ['127.0.0.1:99999', '127.0.0.1:0', 'no-port', 'h:']) {
      expect(configError({ FLOODGATE_GRPC_ADDRESS: address }, loadStandaloneGatewayConfig).variable).toBe('FLOODGATE_GRPC_ADDRESS');
    }
    expect(configError({ FLOODGATE_GRPC_ADDRESS: '127.0.0.1:99999' }, loadStandaloneGatewayConfig).message).toMatch(/between 1 and 65535/);
    expect(configError({ REDIS_SENTINELS: 's:0', REDIS_SENTINEL_NAME: 'm' }).variable).toBe('REDIS_SENTINELS');
  });
});

describe('empty values', () => {
  it('are the same as unset (a manifest can leave a variable empty)', () => {
    const empty = { GRPC_PORT: '', GRPC_HOST: '', REDIS_URL: '', REDIS_KEY_PREFIX: ' ', LOG_LEVEL: '', HTTP_ENABLED: '' };
    expect(loadConfig(empty)).toEqual(loadConfig({}));
    expect(loadConfig(empty)).toMatchObject({ grpcPort: 50051, grpcHost: '0.0.0.0', redisTarget: undefined, keyPrefix: 'fg:' });
    expect(loadStandaloneGatewayConfig({ FLOODGATE_GRPC_ADDRESS: '' }).grpcAddress).toBe('127.0.0.1:50051');
  });
});
