import { createClient, FloodgateError } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { healthStatus } from '../support/probes.js';
import { RedisServer } from '../support/redis-server.js';
import { ServerProcess } from '../support/server-process.js';

const DRAIN_MS = 2_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('graceful shutdown of a real process', () => {
  let redis: RedisServer | undefined;
  let server: ServerProcess | undefined;
  afterEach(async () => {
    await server?.stop('SIGKILL');
    await redis?.stop();
  });

  it('on SIGTERM: NOT_SERVING at once, answers through the drain, finishes hundreds of in-flight calls, refuses new ones, exits 0', async () => {
    // Its own Redis: the test pauses it (SIGSTOP) so calls are still in flight when the drain ends.
    redis = await RedisServer.start();
    server = await ServerProcess.start({
      REDIS_URL: redis.url,
      REDIS_COMMAND_TIMEOUT_MS: '10000',
      SHUTDOWN_DRAIN_MS: String(DRAIN_MS),
      SHUTDOWN_GRACE_MS: '20000',
    });
    const client = createClient({ address: server.address, deadlineMs: 15_000 });
    try {
      expect(await healthStatus(server.address)).toBe('SERVING');
      let n = 0;
      const call = () => client.checkLimit({ policy: 'general', userId: `u${n++ % 400}` });

      // Steady traffic from 8 callers, across the SIGTERM.
      let running = true;
      const steady = Array.from({ length: 8 }, async () => {
        let answered = 0;
        while (running) {
          await call();
          answered++;
        }
        return answered;
      });
      await sleep(200);
      const exited = server.stop('SIGTERM');
      const t0 = Date.now();

      // Health flips first, while calls are still answered.
      let seen = '';
      while (Date.now() - t0 < 1_000 && seen !== 'NOT_SERVING') seen = await healthStatus(server.address);
      expect(seen).toBe('NOT_SERVING');
      await sleep(DRAIN_MS / 2 - (Date.now() - t0));
      running = false;
      const answeredDuringDrain = await Promise.all(steady);
      expect(answeredDuringDrain.every((a) => a > 0)).toBe(true);

      // 300 calls held in flight by a paused Redis across the end of the drain.
      redis.pause();
      setTimeout(() => redis!.resume(), DRAIN_MS + 800 - (Date.now() - t0));
      const doneAt: number[] = [];
      const inFlight = Promise.allSettled(Array.from({ length: 300 }, () => call().finally(() => doneAt.push(Date.now() - t0))));

      // After the drain, a new caller is refused.
      await sleep(DRAIN_MS + 200 - (Date.now() - t0));
      const late = createClient({ address: server.address, deadlineMs: 2_000 });
      const refused = await late.checkLimit({ policy: 'general', userId: 'late' }).then(
        () => undefined,
        (err: unknown) => err,
      );
      late.close();
      expect(refused).toBeInstanceOf(FloodgateError);
      expect((refused as FloodgateError).code).toBe(status.UNAVAILABLE);

      const results = await inFlight;
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
      expect(results).toHaveLength(300);
      // They were still waiting on Redis when the drain ended, and finished anyway.
      expect(Math.min(...doneAt)).toBeGreaterThan(DRAIN_MS);
      expect(await exited).toBe(0);
      expect(server.logs.join('\n')).toMatch(/stopped/);
    } finally {
      client.close();
    }
  });

  it('exits 1 when in-flight calls outlast the grace period', async () => {
    redis = await RedisServer.start();
    server = await ServerProcess.start({
      REDIS_URL: redis.url,
      REDIS_COMMAND_TIMEOUT_MS: '10000',
      SHUTDOWN_DRAIN_MS: '100',
      SHUTDOWN_GRACE_MS: '600',
    });
    const client = createClient({ address: server.address, deadlineMs: 10_000 });
    try {
      await client.checkLimit({ policy: 'general', userId: 'warm' });
      redis.pause();
      const stuck = client.checkLimit({ policy: 'general', userId: 'stuck' }).catch((err: unknown) => err);
      await sleep(50);
      const code = await server.stop('SIGTERM');
      expect(code).toBe(1);
      expect(await stuck).toBeInstanceOf(FloodgateError);
    } finally {
      client.close();
    }
  });
});
