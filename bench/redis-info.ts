import type { Redis } from 'ioredis';

type InfoReader = Pick<Redis, 'info'>;

/** Calls per command from INFO commandstats, e.g. { evalsha: 1234 }. */
export async function commandCalls(redis: InfoReader): Promise<Record<string, number>> {
  const calls: Record<string, number> = {};
  for (const m of (await redis.info('commandstats')).matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) calls[m[1]!] = Number(m[2]);
  return calls;
}

/** EVALSHA plus EVAL (the NOSCRIPT fallback) in a `commandCalls` reading: script calls. */
function scriptsIn(calls: Record<string, number>): number {
  return (calls.evalsha ?? 0) + (calls.eval ?? 0);
}

/** Script calls Redis has run so far. */
export async function scriptCalls(redis: InfoReader): Promise<number> {
  return scriptsIn(await commandCalls(redis));
}

/** What Redis did between two `commandCalls` readings. */
export function redisWorkBetween(before: Record<string, number>, after: Record<string, number>): { scripts: number; decisions: number } {
  return {
    // One call can hold several decisions on one hash tag.
    scripts: scriptsIn(after) - scriptsIn(before),
    // Every rate-limit decision (all but refunds) starts with one EXISTS on the subject's block
    // key, and Redis counts commands run inside scripts: its own count of the decisions it made.
    decisions: (after.exists ?? 0) - (before.exists ?? 0),
  };
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
