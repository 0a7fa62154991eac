import { Cluster } from 'ioredis';
import type { RedisClient } from './redis-connection.js';

/**
 * A Lua script with any number of keys, sent by EVALSHA, and by EVAL when Redis lacks it (after
 * a restart, a failover, on a new node). EVALSHA itself rather than a defined command, whose key
 * count is fixed: a call's key count varies with its decisions.
 */
export class RedisScript {
  private readonly sha: string;

  constructor(
    private readonly client: RedisClient,
    /** Reported in the Redis command metrics instead of "evalsha". */
    name: string,
    readonly lua: string,
  ) {
    this.sha = client.nameScript(name, lua);
  }

  /**
   * Loads the script into Redis (every master of a Cluster) now, so that its first call costs no
   * NOSCRIPT round trip; a node that joins or restarts later gets it through that fallback.
   */
  async load(): Promise<void> {
    const nodes = this.client instanceof Cluster ? this.client.nodes('master') : [this.client];
    await Promise.all(nodes.map((node) => node.script('LOAD', this.lua)));
  }

  /**
   * Replies left undecoded (callBuffer): every script here answers with integers, and ioredis
   * would otherwise walk each reply converting its elements to strings (1.5% of the server's CPU
   * under batches).
   */
  run<T>(keys: readonly string[], args: ReadonlyArray<string | number | Buffer>): Promise<T> {
    const call = (command: 'evalsha' | 'eval', script: string) => this.client.callBuffer(command, [script, keys.length, ...keys, ...args]) as Promise<T>;
    return call('evalsha', this.sha).catch((err: Error) => {
      if (!err.message.startsWith('NOSCRIPT')) throw err;
      return call('eval', this.lua);
    });
  }
}

/** A script call's KEYS, each named once; its arguments refer to a key by its 1-based index, as Lua's KEYS does. */
export class ScriptKeys {
  readonly keys: string[] = [];
  private readonly index = new Map<string, number>();

  constructor(...fixed: string[]) {
    for (const key of fixed) this.of(key);
  }

  of(key: string): number {
    let i = this.index.get(key);
    if (i === undefined) this.index.set(key, (i = this.keys.push(key)));
    return i;
  }
}
