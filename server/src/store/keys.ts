import type { ScopeName } from '../policy/policy.js';

/**
 * Every Redis key Floodgate writes is built here. All keys of one subject (a user or an IP)
 * share the hash tag `{u:<id>}` / `{ip:<addr>}`, so any script touching one subject stays in
 * one Cluster slot. Ids are percent-encoded, so an id holding `{`, `}` or `:` can neither
 * break the tag nor collide with another key.
 */
export class KeySpace {
  constructor(readonly prefix: string) {}

  subjectTag(scope: ScopeName, id: string): string {
    return scope === 'user' ? `{u:${escapeId(id)}}` : `{ip:${escapeId(id)}}`;
  }

  /** State of one policy for one subject; the algorithm is part of the key so a changed algorithm starts clean. */
  rateLimit(scope: ScopeName, id: string, policy: string, algorithmKey: string): string {
    return `${this.prefix}${this.subjectTag(scope, id)}:rl:${policy}:${algorithmKey}`;
  }

  /** Present while the subject is suspended; rate-limit scripts deny before counting when it exists. */
  block(scope: ScopeName, id: string): string {
    return `${this.prefix}${this.subjectTag(scope, id)}:blk`;
  }

  /** A user's tracking hash: first/last seen, totals, per-activity counts, busiest minute. */
  trackUser(id: string): string {
    return `${this.prefix}${this.subjectTag('user', id)}:tr`;
  }

  /** A user's current session (id, start, last activity). */
  trackSession(id: string): string {
    return `${this.prefix}${this.subjectTag('user', id)}:tr:s`;
  }

  /** A user's counts of one UTC day (YYYY-MM-DD). */
  trackDay(id: string, date: string): string {
    return `${this.prefix}${this.subjectTag('user', id)}:tr:d:${date}`;
  }

  /**
   * Global tracking indexes, all under one tag so the index script and the cleanup are atomic:
   * `users` (by last activity), `top` (by requests), `susp` (suspended, by expiry),
   * `ph:<hour start>` / `pd:<day start>` (concurrency peaks), `lock:cleanup`.
   */
  trackIndex(name: string): string {
    return `${this.prefix}{trk}:${name}`;
  }

  /** Per-day global counters (`dau` HyperLogLog, `act` requests per activity), one tag per day. */
  trackDaily(date: string, name: 'dau' | 'act'): string {
    return `${this.prefix}{trk:${date}}:${name}`;
  }
}

/** The hash tag of a key (what Cluster hashes to pick its slot): `{u:alice}` of `fg:{u:alice}:rl:ai:sl`. */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  const close = key.indexOf('}', open + 1);
  return open >= 0 && close > open + 1 ? key.slice(open, close + 1) : key;
}

export function escapeId(id: string): string {
  return encodeURIComponent(id);
}
