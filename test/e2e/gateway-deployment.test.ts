import { createClient } from '@floodgate/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ConfigMapDir } from '../support/configmap.js';
import { eventually } from '../support/eventually.js';
import { expectError, http } from '../support/http.js';
import { RedisServer } from '../support/redis-server.js';
import { GATEWAY, GATEWAY_MAIN, runToExit, ServerProcess } from '../support/server-process.js';
import { uniquePrefix } from '../support/stack.js';

const TOKEN = 'deployment-test-token';
const ADMIN_PATH = '/api/admin/services/redis-status';

describe('admin IP allowlist behind one trusted proxy', () => {
  let server: ServerProcess;
  const admin = (xff?: string, path = ADMIN_PATH) =>
    http(`${server.httpUrl}${path}`, { token: TOKEN, headers: xff === undefined ? {} : { 'x-forwarded-for': xff } });

  beforeAll(async () => {
    server = await ServerProcess.start({
      ADMIN_TOKENS: TOKEN,
      ADMIN_IP_ALLOWLIST: '10.0.0.0/8, 2001:db8::/32',
      TRUSTED_PROXY_HOPS: '1',
    });
  });
  afterAll(async () => {
    expect(await server?.stop()).toBe(0);
  });

  it('admits the address the trusted proxy saw and ignores what the client wrote before it', async () => {
    for (const xff of ['10.1.2.3', '192.0.2.7, 10.1.2.3', '2001:db8::5']) {
      const res = await admin(xff);
      expect(res.status, xff).toBe(200);
    }
    for (const xff of ['192.0.2.7', '10.1.2.3, 192.0.2.7', '2001:db9::1']) {
      expectError(await admin(xff), 403, 'PERMISSION_DENIED');
    }
  });

  it('denies a direct connection whose own address is not listed', async () => {
    expectError(await admin(undefined), 403, 'PERMISSION_DENIED');
  });

  it('checks the allowlist on /api/admin/* only', async () => {
    const res = await admin(undefined, '/api/rate-limits/status?userId=alice');
    expect(res.status).toBe(200);
  });
});

describe('admin IP allowlist without trusted proxies', () => {
  it('ignores X-Forwarded-For and judges the socket address', async () => {
    const server = await ServerProcess.start({ ADMIN_TOKENS: TOKEN, ADMIN_IP_ALLOWLIST: '10.0.0.0/8' });
    try {
      const spoofed = await http(`${server.httpUrl}${ADMIN_PATH}`, { token: TOKEN, headers: { 'x-forwarded-for': '10.1.2.3' } });
      expectError(spoofed, 403, 'PERMISSION_DENIED');
    } finally {
      expect(await server.stop()).toBe(0);
    }
    const loopback = await ServerProcess.start({ ADMIN_TOKENS: TOKEN, ADMIN_IP_ALLOWLIST: '127.0.0.0/8' });
    try {
      expect((await http(`${loopback.httpUrl}${ADMIN_PATH}`, { token: TOKEN })).status).toBe(200);
    } finally {
      expect(await loopback.stop()).toBe(0);
    }
  });
});

describe('admin routes are closed when no ADMIN_TOKENS are configured', () => {
  it('answers 401 naming ADMIN_TOKENS', async () => {
    const server = await ServerProcess.start({});
    try {
      const res = await http(`${server.httpUrl}${ADMIN_PATH}`, { token: 'anything' });
      expectError(res, 401, 'UNAUTHENTICATED');
      expect(res.json.error.message).toContain('ADMIN_TOKENS');
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });
});

describe('standalone gateway', () => {
  it('serves the API against a Floodgate at FLOODGATE_GRPC_ADDRESS and is unready while it is gone', async () => {
    const server = await ServerProcess.start({ REDIS_URL: inject('redisUrl'), REDIS_KEY_PREFIX: uniquePrefix(), HTTP_ENABLED: 'false' });
    expect(server.httpPort).toBeUndefined();
    expect(server.logs.some((l) => l.includes('HTTP listening'))).toBe(false);
    const gateway = await ServerProcess.start(
      { ADMIN_TOKENS: TOKEN, FLOODGATE_GRPC_ADDRESS: server.address },
      15_000,
      GATEWAY,
    );
    try {
      expect((await http(`${gateway.httpUrl}/readyz`)).json).toEqual({ status: 'SERVING' });
      const status = await http(`${gateway.httpUrl}/api/rate-limits/status?userId=standalone`, { token: TOKEN });
      expect(status.status).toBe(200);
      expect(status.json.policies.length).toBeGreaterThan(0);
      // Its own metrics are its HTTP traffic and its process; the server's are on the server.
      const metrics = (await http(`${gateway.httpUrl}/metrics`)).text;
      expect(metrics).toMatch(/floodgate_http_request_duration_seconds_count\{method="GET",route="\/api\/rate-limits\/status",status="200"\} 1/);
      expect(metrics).toContain('floodgate_process_cpu_seconds_total');
      expect(metrics).not.toContain('floodgate_degraded');
      expect(metrics).not.toContain('floodgate_decisions_total');

      expect(await server.stop()).toBe(0);
      expectError(await http(`${gateway.httpUrl}/readyz`), 503, 'UNAVAILABLE');
      const unreachable = await http(`${gateway.httpUrl}/api/rate-limits/status?userId=standalone`, { token: TOKEN });
      expectError(unreachable, 503, 'UNAVAILABLE');
      // In plain words, not grpc-js's channel state ("…Last error: null. Resolution note: ").
      expect(unreachable.json.error.message).not.toMatch(/Last error|Resolution note/);
      expect((await http(`${gateway.httpUrl}/healthz`)).status).toBe(200);
    } finally {
      await server.stop();
      expect(await gateway.stop()).toBe(0);
    }
  });

  it.each([
    ['FLOODGATE_GRPC_ADDRESS', 'no-port'],
    ['FLOODGATE_GRPC_ADDRESS', '127.0.0.1:99999'],
    ['HTTP_HOST', '999.0.0.1'],
    ['HTTP_PORT', '99999'],
    ['ADMIN_IP_ALLOWLIST', '10.0.0.0/33'],
  ])('exits with status 2 naming %s when it is %s', async (name, value) => {
    const { code, output } = await runToExit({ [name]: value }, 15_000, GATEWAY_MAIN);
    expect(code).toBe(2);
    expect(output).toContain(`${name}:`);
  });
});

describe('policy reloads on /metrics', () => {
  it('counts successful and rejected reloads of POLICIES_FILE as the policy source does', async () => {
    const policies = (limit: number, extra = '') => `policies:\n  - name: reports\n    limit: ${limit}\n    window: 1h\n    scopes: [user]\n${extra}`;
    const cm = await ConfigMapDir.create({ 'policies.yaml': policies(2) });
    const server = await ServerProcess.start({ POLICIES_FILE: cm.path('policies.yaml'), POLICIES_POLL_INTERVAL_MS: '200' });
    const reloads = async (result: string) => {
      const text = (await http(`${server.httpUrl}/metrics`)).text;
      return Number(new RegExp(`floodgate_policy_reloads_total\\{result="${result}"\\} (\\d+)`).exec(text)?.[1]);
    };
    try {
      expect([await reloads('success'), await reloads('failure')]).toEqual([0, 0]);
      await cm.update({ 'policies.yaml': policies(3) });
      await eventually('a successful reload is counted', async () => (await reloads('success')) === 1);
      await cm.update({ 'policies.yaml': policies(4, '    colour: red\n') });
      await eventually('a rejected reload is counted', async () => (await reloads('failure')) === 1);
      expect(await reloads('success')).toBe(1);
    } finally {
      expect(await server.stop()).toBe(0);
      await cm.remove();
    }
  });
});

describe('outage metrics of a real process losing its Redis', () => {
  it('show degraded, the tracking buffer and Redis errors on /metrics as GetStoreStatus does, and recover', async () => {
    let redis = await RedisServer.start();
    const server = await ServerProcess.start({
      REDIS_URL: redis.url,
      REDIS_COMMAND_TIMEOUT_MS: '200',
      REDIS_PROBE_INTERVAL_MS: '100',
      TRACKING_BUFFER_SIZE: '2',
      ADMIN_TOKENS: TOKEN,
    });
    const client = createClient({ address: server.address, deadlineMs: 2_000 });
    const metric = async (series: string) => {
      const text = (await http(`${server.httpUrl}/metrics`)).text;
      const line = text.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    try {
      expect(await metric('floodgate_degraded')).toBe(0);
      await redis.stop();
      await client.checkLimit({ policy: 'ai', userId: 'outage-user' });
      for (let i = 0; i < 3; i++) await client.recordActivity({ userId: 'outage-user', activity: 'ai' }).catch(() => undefined);

      expect(await metric('floodgate_degraded')).toBe(1);
      expect(await metric('floodgate_tracking_buffer_size')).toBe(2);
      expect(await metric('floodgate_tracking_buffer_dropped_total')).toBe(1);
      expect(await metric('floodgate_redis_errors_total{command="fg_sliding_log"}')).toBeGreaterThanOrEqual(1);
      const status = await http(`${server.httpUrl}/api/admin/services/redis-status`, { token: TOKEN });
      expect(status.json).toMatchObject({ degraded: true, trackingBufferSize: 2, trackingBufferDropped: 1 });

      redis = await RedisServer.start(redis.port);
      await eventually('back on Redis with the buffer written', async () => {
        await client.checkLimit({ policy: 'ai', userId: 'outage-user' });
        return (await metric('floodgate_degraded')) === 0 && (await metric('floodgate_tracking_buffer_size')) === 0;
      }, 10_000);
      expect(await metric('floodgate_tracking_buffer_dropped_total')).toBe(1);
    } finally {
      client.close();
      await server.stop('SIGKILL');
      await redis.stop();
    }
  });
});

describe('Redis command metrics on a 3-master Cluster', () => {
  it('times scripts by name and plain commands through the Cluster client', async () => {
    const server = await ServerProcess.start({ REDIS_CLUSTER_NODES: inject('redisClusterNodes'), REDIS_KEY_PREFIX: uniquePrefix() });
    const client = createClient({ address: server.address, deadlineMs: 5_000 });
    try {
      for (const userId of ['c1', 'c2', 'c3', 'c4']) await client.checkLimit({ policy: 'ai', userId, ip: '198.51.100.20' });
      await client.recordActivity({ userId: 'c1', activity: 'ai' });
      const text = (await http(`${server.httpUrl}/metrics`)).text;
      expect(text).toMatch(/floodgate_redis_command_duration_seconds_count\{command="fg_sliding_log"\} ([8-9]|\d\d)/);
      expect(text).toMatch(/floodgate_redis_command_duration_seconds_count\{command="fg_track_user"\} [1-9]/);
      expect(text).not.toContain('command="evalsha"');
    } finally {
      client.close();
      expect(await server.stop()).toBe(0);
    }
  });
});
