/** What the admin API reports about the store behind Floodgate. */
export interface StoreStatus {
  mode: string;
  connected: boolean;
  latencyMs: number;
  usedMemoryBytes: number;
  keys: number;
  version: string;
}

/** Store-wide operations of the admin API. */
export interface StoreAdmin {
  /** Deletes the keys (absent ones are skipped); returns how many existed. */
  deleteKeys(keys: readonly string[]): Promise<number>;
  /** Never throws for an unreachable store: it reports `connected: false`. */
  status(): Promise<StoreStatus>;
}
