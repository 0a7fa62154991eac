import type { RedisStore } from '../store/redis-store.js';
import { storeError } from '../store/redis-store.js';
import type { StoreAdmin, StoreStatus } from './store-admin.js';

/** INFO fields are `name:value` lines. */
function infoField(info: string, name: string): string {
  return new RegExp(`^${name}:(.*)$`, 'm').exec(info)?.[1]?.trim() ?? '';
}

export class RedisStoreAdmin implements StoreAdmin {
  constructor(private readonly store: RedisStore) {}

  async deleteKeys(keys: readonly string[]): Promise<number> {
    try {
      // One DEL per key: keys of different subjects live in different Cluster slots.
      const deleted = await Promise.all(keys.map((k) => this.store.client.del(k)));
      return deleted.reduce((a, b) => a + b, 0);
    } catch (err) {
      throw storeError(err);
    }
  }

  async status(): Promise<StoreStatus> {
    const base = { mode: this.store.kind, connected: false, latencyMs: 0, usedMemoryBytes: 0, keys: 0, version: '' };
    try {
      const latencyMs = await this.store.ping();
      const [memory, server, keys] = await Promise.all([
        this.store.client.info('memory'),
        this.store.client.info('server'),
        this.store.client.dbsize(),
      ]);
      return {
        ...base,
        connected: true,
        latencyMs,
        usedMemoryBytes: Number(infoField(memory, 'used_memory')) || 0,
        keys,
        version: infoField(server, 'redis_version'),
      };
    } catch {
      return base;
    }
  }
}
