import type { Redis } from 'ioredis';

/** Calls per command from INFO commandstats, e.g. { evalsha: 1234 }. */
export async function commandCalls(redis: Redis): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  return calls;
}

/** Script calls (EVALSHA plus EVAL, the NOSCRIPT fallback) since `before`. */
export async function scriptCallsSince(redis: Redis, before: Record<string, number>): Promise<number> {
  const now = await commandCalls(redis);
  const delta = (cmd: string) => (now[cmd] ?? 0) - (before[cmd] ?? 0);
  return delta('evalsha') + delta('eval');
}

/** used_memory from INFO memory, in bytes. */
export async function usedMemory(redis: Redis): Promise<number> {
  const m = /^used_memory:(\d+)/m.exec(await redis.info('memory'));
  if (!m) throw new Error('INFO memory has no used_memory');
  return Number(m[1]);
}

/** CPU time Redis has used so far (used_cpu_user + used_cpu_sys), in ms. */
export async function redisCpuMs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(info)?.[1] ?? NaN);
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
}
