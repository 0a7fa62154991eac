import { FloodgateError } from '@floodgate/client';
import { Redis, type Cluster, type RedisOptions } from 'ioredis';
import { LUA_PRELUDE, MODE_CODE, type Algorithm, type LimitOutcome } from '../limiter/algorithm.js';
import { ALGORITHM_IMPLS } from '../limiter/algorithms.js';
import type { LimitCall, Store, StoreKind } from './store.js';

type ScriptFn = (...args: Array<string | number>) => Promise<[number, number, number, number]>;
type Client = Redis | Cluster;

export interface RedisStoreOptions {
  url: string;
  commandTimeoutMs: number;
  connectTimeoutMs: number;
}

/** Options that keep every call bounded: no offline queue, a command timeout below the RPC deadline. */
export function boundedOptions(o: Pick<RedisStoreOptions, 'commandTimeoutMs' | 'connectTimeoutMs'>): RedisOptions {
  return {
    enableAutoPipelining: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: o.commandTimeoutMs,
    connectTimeout: o.connectTimeoutMs,
    lazyConnect: true,
    retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000),
  };
}

function scriptName(algorithm: Algorithm<any>): string {
  return `fg_${algorithm.name}`;
}

/** Rate-limit state in Redis: each algorithm is one atomic script (EVALSHA, EVAL on NOSCRIPT). */
export class RedisStore implements Store {
  private constructor(
    readonly kind: StoreKind,
    readonly client: Client,
  ) {
    for (const algorithm of Object.values(ALGORITHM_IMPLS)) {
      client.defineCommand(scriptName(algorithm), { numberOfKeys: 2, lua: LUA_PRELUDE + algorithm.lua });
    }
  }

  /** Connects and waits until Redis answers; throws when it does not within the connect timeout. */
  static async connect(options: RedisStoreOptions): Promise<RedisStore> {
    const client = new Redis(options.url, boundedOptions(options));
    const store = new RedisStore('single', client);
    try {
      await client.connect();
      await client.ping();
    } catch (err) {
      client.disconnect();
      throw new Error(`cannot reach Redis at ${redact(options.url)}: ${(err as Error).message}`);
    }
    return store;
  }

  async limit(calls: readonly LimitCall[], now: number): Promise<LimitOutcome[]> {
    try {
      return await Promise.all(
        calls.map(async (call) => {
          const run = (this.client as unknown as Record<string, ScriptFn>)[scriptName(call.algorithm)]!;
          const { limit, windowMs, cost, burst, member } = call.args;
          const [status, remaining, resetAfterMs, retryAfterMs] = await run.call(
            this.client,
            call.key,
            call.blockKey,
            now,
            windowMs,
            limit,
            cost,
            burst,
            member,
            MODE_CODE[call.mode],
          );
          return { allowed: status === 1, blocked: status === -1, remaining, resetAfterMs, retryAfterMs };
        }),
      );
    } catch (err) {
      throw storeError(err);
    }
  }

  async ping(): Promise<number> {
    const started = performance.now();
    try {
      await this.client.ping();
    } catch (err) {
      throw storeError(err);
    }
    return performance.now() - started;
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

/** Any failure talking to Redis, as the one error type: UNAVAILABLE. */
export function storeError(err: unknown): FloodgateError {
  if (err instanceof FloodgateError) return err;
  return FloodgateError.unavailable(`store unavailable: ${(err as Error).message}`);
}

function redact(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}
