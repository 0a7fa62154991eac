/**
 * `npm run bench:scripts`: Redis's own time per decision in each algorithm's script (INFO
 * commandstats, EVALSHA's usec, the commands it runs included), for the shapes a script call
 * takes: many decisions on one hot key (what the coalescer makes of a flood), and one decision
 * per call. Calls are sent one at a time, so the figure is the script's, not the network's.
 */
import { Redis } from 'ioredis';
import { ALGORITHM_IMPLS } from '../server/src/limiter/algorithms.js';
import { scriptOf, type Algorithm } from '../server/src/limiter/algorithm.js';
import { Coalescer, type Settled } from '../server/src/store/coalescer.js';
import type { LimitCall } from '../server/src/store/store.js';
import { RedisServer } from '../test/support/redis-server.js';

const WINDOW_MS = 15 * 60_000;
/** sliding_log's largest allowed limit: "under the limit" stays under it for the whole run. */
const HIGH_LIMIT = 100_000;

interface Shape {
  name: string;
  decisionsPerCall: number;
  calls: number;
  limit: number;
  /** A new key for every call (else one key throughout). */
  freshKeys: boolean;
}

const SHAPES: Shape[] = [
  { name: '50 decisions on one key per call, over its limit', decisionsPerCall: 50, calls: 1_000, limit: 100, freshKeys: false },
  { name: '50 decisions on one key per call, under its limit', decisionsPerCall: 50, calls: 1_000, limit: HIGH_LIMIT, freshKeys: false },
  { name: 'one decision per call, over its limit', decisionsPerCall: 1, calls: 10_000, limit: 100, freshKeys: false },
  { name: 'one decision per call, a new key each', decisionsPerCall: 1, calls: 10_000, limit: 100, freshKeys: true },
];

async function usPerDecision(redis: Redis, algorithm: Algorithm<any>, shape: Shape): Promise<number> {
  const shas = await Promise.all([false, true].map((many) => redis.script('LOAD', scriptOf(algorithm, many)) as Promise<string>));
  await redis.flushall();
  // The server's packing and grouping: a call's decisions, made in one turn on one key, are one script call.
  const coalescer = new Coalescer((_, keys, decisions, many) => redis.evalsha(shas[Number(many)]!, keys.length, ...keys, decisions) as Promise<number[]>, shape.decisionsPerCall);
  const started = Date.now();
  const call = async (c: number, limit: number, n: number) => {
    const key = shape.freshKeys ? `{u:${c}}:${algorithm.keySuffix}` : `{u:hot}:${algorithm.keySuffix}`;
    const calls = Array.from({ length: n }, (_, i): LimitCall => ({
      algorithm,
      key,
      blockKey: '{u:hot}:b',
      args: { limit, windowMs: WINDOW_MS, cost: 1, burst: limit, member: `m${c}-${i}` },
      mode: 'consume',
      failureMode: 'closed',
    }));
    const settled = await new Promise<Settled[]>((resolve) => coalescer.decideEach(calls, started + c, { done: resolve }));
    for (const s of settled) if (s instanceof Error) throw s;
  };
  // Over the limit from the first measured decision on.
  if (shape.limit < HIGH_LIMIT) await call(-1, shape.limit, shape.limit);
  await redis.config('RESETSTAT');
  for (let c = 0; c < shape.calls; c++) await call(c, shape.limit, shape.decisionsPerCall);
  const m = /^cmdstat_evalsha:calls=\d+,usec=(\d+)/m.exec(await redis.info('commandstats'));
  if (!m) throw new Error('no EVALSHA in INFO commandstats');
  return Number(m[1]) / (shape.calls * shape.decisionsPerCall);
}

const server = await RedisServer.start();
const redis = new Redis(server.url);
try {
  const algorithms = Object.values(ALGORITHM_IMPLS);
  const lines = [`| Script call | ${algorithms.map((a) => a.name).join(' | ')} |`, `| --- | ${algorithms.map(() => '---:').join(' | ')} |`];
  for (const shape of SHAPES) {
    const cells: string[] = [];
    for (const algorithm of algorithms) cells.push((await usPerDecision(redis, algorithm, shape)).toFixed(2));
    lines.push(`| ${shape.name} | ${cells.join(' | ')} |`);
  }
  process.stdout.write(`Redis µs per decision inside the script (EVALSHA usec ÷ decisions):\n\n${lines.join('\n')}\n`);
} finally {
  redis.disconnect();
  await server.stop();
}
