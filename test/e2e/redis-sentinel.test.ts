import { createClient } from '@floodgate/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisSentinel } from '../support/redis-sentinel.js';
import { ServerProcess } from '../support/server-process.js';
import { uniquePrefix } from '../support/stack.js';

describe('Floodgate behind Redis Sentinel, the master with a password', () => {
  let sentinel: RedisSentinel;
  let server: ServerProcess;
  const prefix = uniquePrefix();
  beforeAll(async () => {
    sentinel = await RedisSentinel.start('fgmaster', 'master-secret');
    server = await ServerProcess.start({ ...sentinel.env, REDIS_PASSWORD: 'master-secret', REDIS_KEY_PREFIX: prefix });
  });
  afterAll(async () => {
    await server?.stop();
    await sentinel?.stop();
  });

  it('finds the master through the sentinel, authenticates, and keeps its state there', async () => {
    expect(server.logs.join('\n')).toMatch(/"store":"sentinel"/);
    const client = createClient({ address: server.address, deadlineMs: 5_000 });
    const master = new Redis(sentinel.master.url, { password: 'master-secret' });
    try {
      const results = [];
      for (let i = 0; i < 21; i++) results.push(await client.checkLimit({ policy: 'ai', userId: 'sam' }));
      expect(results.filter((r) => r.allowed)).toHaveLength(20);
      expect(results.every((r) => !r.degraded)).toBe(true);
      expect(await master.keys(`${prefix}*`)).toEqual([`${prefix}{u:sam}:rl:ai:sl`]);
    } finally {
      client.close();
      master.disconnect();
    }
  });
});
