import { createClient, Reason } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { healthStatus } from '../support/probes.js';
import { RedisServer } from '../support/redis-server.js';
import { ServerProcess } from '../support/server-process.js';

describe('a real process losing its Redis', () => {
  let redis: RedisServer | undefined;
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop('SIGKILL');
    await redis?.stop();
  });

  it('enforces the default (local) policies itself, buffers tracking, stays SERVING, logs once each way, and goes back to Redis', async () => {
    redis = await RedisServer.start();
    server = await ServerProcess.start({
      REDIS_URL: redis.url,
      REDIS_COMMAND_TIMEOUT_MS: '200',
      REDIS_PROBE_INTERVAL_MS: '100',
      TRACKING_BUFFER_SIZE: '3',
      ADMIN_TOKENS: 'ops',
    });
    const client = createClient({ address: server.address, deadlineMs: 1_000, token: 'ops' });
    try {
      expect(await client.checkLimit({ policy: 'image', userId: 'pat' })).toMatchObject({ allowed: true, degraded: false });

      await redis.stop();
      const during = [];
      for (let i = 0; i < 16; i++) during.push(await client.checkLimit({ policy: 'image', userId: 'pat' }));
      expect(during.every((r) => r.degraded)).toBe(true);
      // image allows 15 a minute; the memory store starts from zero, so exactly 15 pass.
      expect(during.filter((r) => r.allowed)).toHaveLength(15);
      expect(during.at(-1)!.reason).toBe(Reason.REASON_OVER_LIMIT);
      expect(await healthStatus(server.address)).toBe('SERVING');

      // Tracking: three held, the fourth refused (not silently lost), all of it visible to operators.
      const record = () => client.recordActivity({ userId: 'pat', activity: 'image' });
      for (let i = 0; i < 3; i++) expect(await record()).toEqual({ buffered: true });
      expect(await record().catch((e: unknown) => e)).toMatchObject({ code: status.UNAVAILABLE });
      expect(await client.admin.getStoreStatus()).toMatchObject({ connected: false, degraded: true, trackingBufferSize: 3, trackingBufferDropped: 1 });

      redis = await RedisServer.start(redis.port);
      const deadline = Date.now() + 10_000;
      let back = await client.checkLimit({ policy: 'image', userId: 'pat' });
      while (back.degraded && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        back = await client.checkLimit({ policy: 'image', userId: 'pat' });
      }
      expect(back).toMatchObject({ allowed: true, degraded: false });
      // The held activity reaches the (restarted, empty) Redis.
      while ((await client.admin.getStoreStatus()).trackingBufferSize > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const stats = await client.getUserStats({ userId: 'pat' });
      expect(stats.stats!.totalRequests).toBe(3);
      expect(await client.admin.getStoreStatus()).toMatchObject({ connected: true, degraded: false, trackingBufferSize: 0, trackingBufferDropped: 1 });
      const logs = server.logs.join('\n');
      expect(logs.match(/shared store unreachable/g)).toHaveLength(1);
      expect(logs.match(/shared store reachable again/g)).toHaveLength(1);
    } finally {
      client.close();
    }
  });
});
