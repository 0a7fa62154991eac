import { createServer, type AddressInfo } from 'node:net';
import { createClient } from '@floodgate/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToExit, ServerProcess } from '../support/server-process.js';
import { healthStatus, reflectedServices } from '../support/probes.js';
import { freePort, RedisServer } from '../support/redis-server.js';

describe('the server process', () => {
  it('starts on the memory store without Redis, says so first, serves health and reflection', async () => {
    const server = await ServerProcess.start();
    try {
      expect(JSON.parse(server.logs[0]!)).toMatchObject({ store: 'memory' });
      expect(server.logs[0]).toMatch(/memory store/);
      expect(await healthStatus(server.address)).toBe('SERVING');
      expect(await healthStatus(server.address, 'floodgate.v1.RateLimitService')).toBe('SERVING');
      const services = await reflectedServices(server.address);
      expect(services).toEqual(expect.arrayContaining(['floodgate.v1.RateLimitService', 'floodgate.v1.TrackingService', 'floodgate.v1.AdminService']));
    } finally {
      expect(await server.stop()).toBe(0);
    }
  });

  it.each([
    ['GRPC_PORT', 'abc'],
    ['GRPC_PORT', '70000'],
    ['LOG_LEVEL', 'loud'],
    ['REDIS_URL', 'http://x'],
    ['IP_ALLOWLIST', '10.0.0.0/40'],
    ['HTTP_PORT', 'eighty'],
    ['HTTP_ENABLED', 'maybe'],
    ['TRUSTED_PROXY_HOPS', '-1'],
    ['ADMIN_IP_ALLOWLIST', 'not-an-ip'],
    ['ADMIN_TOKENS', 'a b'],
  ])('exits non-zero naming %s when it is %s', async (name, value) => {
    const { code, output } = await runToExit({ [name]: value });
    expect(code).not.toBe(0);
    expect(output).toContain(`${name}:`);
  });

  it.each([
    ['REDIS_URL', 'redis://127.0.0.1:abc'],
    ['REDIS_URL', 'redis://127.0.0.1:6379/abc'],
    ['REDIS_URL', 'redis://127.0.0.1:6379/-1'],
    ['GRPC_HOST', '999.0.0.1'],
  ])('exits 2 with one line naming %s when it is %s', async (name, value) => {
    const { code, output } = await runToExit({ [name]: value });
    expect(code).toBe(2);
    expect(output.trim().split('\n')).toEqual([expect.stringContaining(`invalid configuration: ${name}:`)]);
  });

  it('waits for a Redis that starts after it, logging each failed attempt', async () => {
    const port = await freePort();
    const starting = ServerProcess.start({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_CONNECT_TIMEOUT_MS: '10000' });
    // Fails the test if the server gives up (or the promise is left unhandled) before Redis is up.
    starting.catch(() => {});
    await new Promise((r) => setTimeout(r, 1_000));
    const redis = await RedisServer.start(port);
    try {
      const server = await starting;
      try {
        const retries = server.logs.filter((l) => l.includes('Redis not reachable yet')).map((l) => JSON.parse(l));
        expect(retries.length).toBeGreaterThan(0);
        expect(retries[0]).toMatchObject({ level: 'warn', reason: expect.stringMatching(/ECONNREFUSED/) });
        expect(await healthStatus(server.address)).toBe('SERVING');
      } finally {
        expect(await server.stop('SIGKILL')).toBe(null);
      }
    } finally {
      await redis.stop();
    }
  });

  it('exits 1 with one fatal line when Redis never answers within REDIS_CONNECT_TIMEOUT_MS', async () => {
    const port = await freePort();
    const started = Date.now();
    const { code, output } = await runToExit({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_CONNECT_TIMEOUT_MS: '800' });
    expect(code).toBe(1);
    // It tried for the whole timeout, not only once.
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    const lines = output.trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.filter((l) => l.level === 'warn' && /not reachable yet/.test(l.msg)).length).toBeGreaterThan(1);
    const fatal = lines.filter((l) => l.level === 'fatal');
    expect(fatal).toHaveLength(1);
    expect(fatal[0].msg).toMatch(/^REDIS_URL: cannot reach Redis at redis:\/\/127\.0\.0\.1:\d+: no answer within 800 ms \(last error: .*ECONNREFUSED/);
    expect(fatal[0]).not.toHaveProperty('err');
  });

  it("writes only JSON lines, the Redis client's own warning included (a password Redis does not ask for)", async () => {
    const redis = await RedisServer.start();
    const server = await ServerProcess.start({ REDIS_URL: `redis://:unasked@127.0.0.1:${redis.port}` });
    try {
      expect(await healthStatus(server.address)).toBe('SERVING');
      const lines = server.logs.flatMap((chunk) => chunk.split('\n')).filter((l) => l !== '');
      for (const l of lines) expect(() => JSON.parse(l), l).not.toThrow();
      expect(lines.map((l) => JSON.parse(l)).filter((l) => l.source === 'console')).toEqual([
        expect.objectContaining({ level: 'warn', msg: expect.stringContaining('does not require a password') }),
      ]);
    } finally {
      expect(await server.stop()).toBe(0);
      await redis.stop();
    }
  });

  describe('against a real Redis', () => {
    let redis: RedisServer;
    beforeAll(async () => {
      redis = await RedisServer.start(undefined, ['--requirepass', 'pw']);
    });
    afterAll(async () => {
      await redis.stop();
    });

    it.each([
      ['a database the server lacks', (port: number) => `redis://:pw@127.0.0.1:${port}/99`, /^REDIS_URL: cannot use Redis at redis:\/\/\*\*\*@127\.0\.0\.1:\d+\/99: .*DB index is out of range/],
      ['a wrong password', (port: number) => `redis://:wrong@127.0.0.1:${port}/3`, /^REDIS_URL: cannot use Redis at .*WRONGPASS/],
      ['no password', (port: number) => `redis://127.0.0.1:${port}`, /^REDIS_URL: cannot use Redis at .*NOAUTH/],
    ])('exits 1 at once with one fatal line for %s, without retrying', async (_, url, message) => {
      const started = Date.now();
      const { code, output } = await runToExit({ REDIS_URL: url(redis.port), REDIS_CONNECT_TIMEOUT_MS: '20000' });
      expect(code).toBe(1);
      expect(Date.now() - started).toBeLessThan(10_000);
      const lines = output.trim().split('\n').map((l) => JSON.parse(l));
      expect(lines.filter((l) => l.level === 'warn')).toEqual([]);
      expect(lines.filter((l) => l.level === 'fatal').map((l) => l.msg)).toEqual([expect.stringMatching(message)]);
      expect(output).not.toContain(':pw@');
    });

    it('keeps its state in the database REDIS_URL names', async () => {
      const server = await ServerProcess.start({ REDIS_URL: `redis://:pw@127.0.0.1:${redis.port}/3`, REDIS_KEY_PREFIX: 'dbtest:' });
      const client = createClient({ address: server.address, deadlineMs: 2_000 });
      const admin = new Redis({ port: redis.port, host: '127.0.0.1', password: 'pw', lazyConnect: true });
      try {
        expect(await client.checkLimit({ policy: 'image', userId: 'db-user' })).toMatchObject({ allowed: true, degraded: false });
        await admin.connect();
        await admin.select(3);
        expect((await admin.keys('dbtest:*')).length).toBeGreaterThan(0);
        await admin.select(0);
        expect(await admin.keys('dbtest:*')).toEqual([]);
      } finally {
        client.close();
        admin.disconnect();
        expect(await server.stop('SIGKILL')).toBe(null);
      }
    });
  });

  it('exits 1 with one fatal line naming GRPC_HOST/GRPC_PORT when it cannot bind', async () => {
    const taken = createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as AddressInfo).port;
    try {
      const { code, output } = await runToExit({ GRPC_HOST: '127.0.0.1', GRPC_PORT: String(port) });
      expect(code).toBe(1);
      const fatal = output
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((l) => l.level === 'fatal');
      expect(fatal.map((l) => l.msg)).toEqual([expect.stringMatching(new RegExp(`^GRPC_HOST/GRPC_PORT: cannot listen on 127\\.0\\.0\\.1:${port}: `))]);
      expect(output).not.toMatch(/\n\s+at /);
    } finally {
      taken.close();
    }
  });
});
