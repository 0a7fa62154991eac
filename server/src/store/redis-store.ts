import { FloodgateError } from '@floodgate/client';
import { Cluster } from 'ioredis';
import { withDeadline } from '../deadline.js';
import { LUA_PRELUDE, MODE_CODE, type Algorithm, type LimitOutcome } from '../limiter/algorithm.js';
import { ALGORITHM_IMPLS } from '../limiter/algorithms.js';
import { createRedisClient, describeTarget, type RedisClient, type RedisConnectionOptions } from './redis-connection.js';
import type { LimitCall, Store, StoreKind } from './store.js';

type ScriptFn = (...args: Array<string | number>) => Promise<[number, number, number, number]>;

function scriptName(algorithm: Algorithm<any>): string {
  return `fg_${algorithm.name}`;
}

/** Rate-limit state in Redis: each algorithm is one atomic script (EVALSHA, EVAL on NOSCRIPT). */
export class RedisStore implements Store {
  private constructor(
    readonly kind: StoreKind,
    readonly client: RedisClient,
  ) {
    for (const algorithm of Object.values(ALGORITHM_IMPLS)) {
      client.defineCommand(scriptName(algorithm), { numberOfKeys: 2, lua: LUA_PRELUDE + algorithm.lua });
    }
  }

  /** False while ioredis has no usable connection (connecting, reconnecting, closed). */
  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /** Connects and waits until Redis answers; throws when it does not within the connect timeout. */
  static async connect(options: RedisConnectionOptions): Promise<RedisStore> {
    const client = createRedisClient(options);
    // Connection errors surface through failed commands; without a listener ioredis would log them itself.
    client.on('error', () => {});
    const store = new RedisStore(options.target.kind, client);
    try {
      // Cluster's connect() keeps retrying on its own; start-up gives up after the connect timeout.
      await withDeadline(client.connect(), options.connectTimeoutMs, () => new Error(`no answer within ${options.connectTimeoutMs} ms`));
      await client.ping();
    } catch (err) {
      client.disconnect();
      throw new Error(`cannot reach Redis at ${describeTarget(options.target)}: ${(err as Error).message}`);
    }
    return store;
  }

  /** Plain promise chains, not async closures: one frame and promise less per key on the hot path. */
  limit(calls: readonly LimitCall[], now: number): Promise<LimitOutcome[]> {
    return Promise.all(
      calls.map((call) => {
        const run = (this.client as unknown as Record<string, ScriptFn>)[scriptName(call.algorithm)]!;
        const { limit, windowMs, cost, burst, member } = call.args;
        return run.call(this.client, call.key, call.blockKey, now, windowMs, limit, cost, burst, member, MODE_CODE[call.mode]).then(toOutcome);
      }),
    ).catch((err: unknown) => {
      throw storeError(err);
    });
  }

  /** On a Cluster a node can answer PING while the cluster refuses commands, so it asks for the cluster state. */
  async ping(): Promise<number> {
    const started = performance.now();
    try {
      if (this.client instanceof Cluster) {
        const info = await this.client.cluster('INFO');
        if (!/^cluster_state:ok/m.test(info)) throw new Error('cluster state is not ok');
      } else {
        await this.client.ping();
      }
    } catch (err) {
      throw storeError(err);
    }
    return performance.now() - started;
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

function toOutcome([status, remaining, resetAfterMs, retryAfterMs]: [number, number, number, number]): LimitOutcome {
  return { allowed: status === 1, blocked: status === -1, remaining, resetAfterMs, retryAfterMs };
}

/** Any failure talking to Redis, as the one error type: UNAVAILABLE. */
export function storeError(err: unknown): FloodgateError {
  if (err instanceof FloodgateError) return err;
  return FloodgateError.unavailable(`store unavailable: ${(err as Error).message}`);
}
