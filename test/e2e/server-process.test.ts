import { describe, expect, it } from 'vitest';
import { runToExit, ServerProcess } from '../support/server-process.js';
import { healthStatus, reflectedServices } from '../support/probes.js';
import { freePort } from '../support/redis-server.js';

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

  it('exits non-zero when the configured Redis cannot be reached', async () => {
    const port = await freePort();
    const { code, output } = await runToExit({ REDIS_URL: `redis://127.0.0.1:${port}`, REDIS_CONNECT_TIMEOUT_MS: '500' });
    expect(code).toBe(1);
    expect(output).toMatch(/cannot reach Redis/);
  });
});
