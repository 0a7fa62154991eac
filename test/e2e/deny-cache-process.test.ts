import { createClient, Reason } from '@floodgate/client';
import { describe, expect, inject, it } from 'vitest';
import { serverCounters } from '../../bench/server-metrics.js';
import { runToExit, ServerProcess } from '../support/server-process.js';

const redisUrl = inject('redisUrl');

const denyCacheHits = async (server: ServerProcess): Promise<number> => (await serverCounters(server.httpUrl)).cacheHits;

/** A user over the default `general` policy (100 per 15 min), then 20 more checks of it. */
async function flood(server: ServerProcess, userId: string): Promise<void> {
  const client = createClient({ address: server.address, deadlineMs: 5_000 });
  try {
    for (let i = 0; i < 100; i++) expect((await client.checkLimit({ policy: 'general', userId })).allowed).toBe(true);
    for (let i = 0; i < 21; i++) expect(await client.checkLimit({ policy: 'general', userId })).toMatchObject({ allowed: false, reason: Reason.REASON_OVER_LIMIT });
  } finally {
    client.close();
  }
}

describe('the deny cache in a server process', () => {
  it('is on by default with Redis: repeated denies are answered without Redis', async () => {
    const server = await ServerProcess.start({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `dc${Date.now()}:` });
    try {
      await flood(server, 'flooder');
      // The first deny came from Redis; the 20 after it from the cache.
      expect(await denyCacheHits(server)).toBe(20);
    } finally {
      await server.stop();
    }
  });

  it('is off with DENY_CACHE_MS=0: every deny comes from Redis', async () => {
    const server = await ServerProcess.start({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `dc${Date.now()}:`, DENY_CACHE_MS: '0' });
    try {
      await flood(server, 'flooder');
      expect(await denyCacheHits(server)).toBe(0);
    } finally {
      await server.stop();
    }
  });

  it.each([
    ['DENY_CACHE_MS', '-1'],
    ['DENY_CACHE_MS', 'soon'],
    ['DENY_CACHE_MS', '70000'],
    ['DENY_CACHE_MAX_KEYS', '0'],
  ])('exits 2 naming %s when it is %s', async (name, value) => {
    const { code, output } = await runToExit({ [name]: value });
    expect(code).toBe(2);
    expect(output).toContain(`${name}:`);
  });
});
