import { createClient, FloodgateError, status } from '@floodgate/client';
import { afterEach, describe, expect, it } from 'vitest';
import { RedisServer } from '../support/redis-server.js';
import { ServerProcess } from '../support/server-process.js';

const MAX = 20;

/** A metric's value as the server's /metrics gives it (a series without labels). */
async function metric(server: ServerProcess, name: string): Promise<number> {
  const text = await (await fetch(`${server.httpUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

async function refusal(p: Promise<unknown>): Promise<FloodgateError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FloodgateError);
  return err as FloodgateError;
}

describe('a replica with MAX_CHECKS_IN_FLIGHT checks in flight', () => {
  let redis: RedisServer | undefined;
  let server: ServerProcess | undefined;
  afterEach(async () => {
    redis?.resume();
    await server?.stop('SIGKILL');
    await redis?.stop();
  });

  it('refuses new checks UNAVAILABLE at once (calls, batches, the stream), answers those it took, then takes new ones', async () => {
    // Its own Redis: the test pauses it (SIGSTOP) so that checks stay in flight.
    redis = await RedisServer.start();
    server = await ServerProcess.start({ REDIS_URL: redis.url, REDIS_COMMAND_TIMEOUT_MS: '10000', DENY_CACHE_MS: '0', MAX_CHECKS_IN_FLIGHT: String(MAX) });
    const calls = createClient({ address: server.address, deadlineMs: 15_000, checkTransport: 'unary', onUnavailableEvent: () => {} });
    const stream = createClient({ address: server.address, deadlineMs: 15_000, onUnavailableEvent: () => {} });
    try {
      expect((await calls.checkLimit({ policy: 'general', userId: 'warm' })).allowed).toBe(true);
      expect((await stream.checkLimit({ policy: 'general', userId: 'warm-stream' })).allowed).toBe(true);
      expect(await metric(server, 'floodgate_checks_in_flight')).toBe(0);

      redis.pause();
      // MAX - 2 single checks and a batch of 2: the bound exactly.
      const held = [
        ...Array.from({ length: MAX - 2 }, (_, i) => calls.checkLimit({ policy: 'general', userId: `held-${i}` })),
        calls.checkLimits({ checks: [{ policy: 'general', userId: 'held-a' }, { policy: 'general', userId: 'held-b' }] }),
      ];
      for (let waited = 0; (await metric(server, 'floodgate_checks_in_flight')) < MAX; waited += 20) {
        if (waited > 5_000) throw new Error('the held checks never reached the server');
        await new Promise((r) => setTimeout(r, 20));
      }

      // Past the bound, nothing waits for the paused Redis: refused at once, the bound named.
      const started = performance.now();
      const one = await refusal(calls.checkLimit({ policy: 'general', userId: 'late' }));
      const batch = await refusal(calls.checkLimits({ checks: [{ policy: 'general', userId: 'late-a' }, { policy: 'general', userId: 'late-b' }, { policy: 'general', userId: 'late-c' }] }));
      const streamed = await refusal(stream.checkLimit({ policy: 'general', userId: 'late-stream' }));
      expect(performance.now() - started).toBeLessThan(2_000);
      for (const e of [one, batch, streamed]) {
        expect(e.code).toBe(status.UNAVAILABLE);
        expect(e.message).toMatch(/overloaded: 20 checks in flight, at most 20 \(MAX_CHECKS_IN_FLIGHT\)/);
      }
      // Invalid input is still the caller's fault, whatever the load.
      expect((await refusal(calls.checkLimit({ policy: 'general' }))).code).toBe(status.INVALID_ARGUMENT);
      expect(await metric(server, 'floodgate_checks_shed_total')).toBe(1 + 3 + 1);

      // The checks it took are answered by Redis once it is back, none degraded.
      redis.resume();
      const answers = await Promise.all(held);
      const singles = answers.slice(0, -1) as Array<{ allowed: boolean; degraded: boolean }>;
      expect(singles.every((d) => d.allowed && !d.degraded)).toBe(true);
      expect(await metric(server, 'floodgate_checks_in_flight')).toBe(0);
      expect((await calls.checkLimit({ policy: 'general', userId: 'after' })).allowed).toBe(true);
      expect((await stream.checkLimit({ policy: 'general', userId: 'after-stream' })).allowed).toBe(true);
    } finally {
      calls.close();
      stream.close();
    }
  }, 30_000);
});
