import { MemoryStoreAdmin } from '../admin/memory-store-admin.js';
import { RedisStoreAdmin } from '../admin/redis-store-admin.js';
import type { StoreAdmin } from '../admin/store-admin.js';
import type { Clock } from '../clock.js';
import type { KeySpace } from '../store/keys.js';
import { MemoryStore } from '../store/memory-store.js';
import { RedisStore } from '../store/redis-store.js';
import type { Store } from '../store/store.js';
import { MemoryTrackingStore } from './memory-tracking-store.js';
import { RedisTrackingStore } from './redis-tracking-store.js';
import type { TrackingStore } from './tracking-store.js';

/** The tracking store and store admin that sit on the same backend as the rate-limit store. */
export function openTracking(store: Store, keys: KeySpace, clock: Clock): { tracking: TrackingStore; storeAdmin: StoreAdmin } {
  if (store instanceof RedisStore) return { tracking: new RedisTrackingStore(store.client, keys), storeAdmin: new RedisStoreAdmin(store) };
  if (store instanceof MemoryStore) return { tracking: new MemoryTrackingStore(store, keys, clock), storeAdmin: new MemoryStoreAdmin(store, clock) };
  throw new Error(`no tracking store for a ${store.kind} store`);
}
