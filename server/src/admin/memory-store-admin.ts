import type { Clock } from '../clock.js';
import type { MemoryStore } from '../store/memory-store.js';
import type { StoreAdmin, StoreStatus } from './store-admin.js';

export class MemoryStoreAdmin implements StoreAdmin {
  constructor(
    private readonly store: MemoryStore,
    private readonly clock: Clock,
  ) {}

  async deleteKeys(keys: readonly string[]): Promise<number> {
    const now = this.clock.now();
    return keys.filter((key) => this.store.delete(key, now)).length;
  }

  async status(): Promise<StoreStatus> {
    // The memory store lives in this process: its memory is the process heap.
    return { mode: 'memory', connected: true, latencyMs: 0, usedMemoryBytes: process.memoryUsage().heapUsed, keys: this.store.size, version: '' };
  }
}
