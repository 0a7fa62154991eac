import type { ScopeName } from '../policy/policy.js';

/** Subjects per scope whose keys KeySpace keeps (about 300 bytes each). */
const MAX_CACHED_SUBJECTS = 10_000;

/** The keys of one subject; taken once per target, so a check looks its subject up once. */
export interface SubjectKeys {
  /** The prefix and the subject's hash tag: the start of each of its keys. */
  prefixed: string;
  block: string;
  /** By policy name: its state key, for the algorithm it had when the key was built. */
  rateLimit: Map<string, { algorithmKey: string; key: string }>;
}

/**
 * Every Redis key Floodgate writes is built here. All keys of one subject (a user or an IP)
 * share the hash tag `{u:<id>}` / `{ip:<addr>}`, so any script touching one subject stays in
 * one Cluster slot. Ids are percent-encoded, so an id holding `{`, `}` or `:` can neither
 * break the tag nor collide with another key.
 */
export class KeySpace {
  /**
   * The rate-limit keys of recent subjects, by scope and id: built once rather than per
   * decision, and the same strings each time, whose hashes V8 keeps (the store looks every key
   * up in a Map). Emptied when it reaches MAX_CACHED_SUBJECTS, so it stays bounded.
   */
  private readonly subjects: Record<ScopeName, Map<string, SubjectKeys>> = { user: new Map(), ip: new Map() };

  constructor(readonly prefix: string) {}

  subjectTag(scope: ScopeName, id: string): string {
    return scope === 'user' ? `{u:${escapeId(id)}}` : `{ip:${escapeId(id)}}`;
  }

  /** State of one policy for one subject; the algorithm is part of the key so a changed algorithm starts clean. */
  rateLimit(scope: ScopeName, id: string, policy: string, algorithmKey: string): string {
    return this.rateLimitOf(this.subject(scope, id), policy, algorithmKey);
  }

  /** rateLimit() of a subject already looked up. */
  rateLimitOf(subject: SubjectKeys, policy: string, algorithmKey: string): string {
    const known = subject.rateLimit.get(policy);
    if (known?.algorithmKey === algorithmKey) return known.key;
    const key = `${subject.prefixed}:rl:${policy}:${algorithmKey}`;
    subject.rateLimit.set(policy, { algorithmKey, key });
    return key;
  }

  /** Present while the subject is suspended; rate-limit scripts deny before counting when it exists. */
  block(scope: ScopeName, id: string): string {
    return this.subject(scope, id).block;
  }

  subject(scope: ScopeName, id: string): SubjectKeys {
    const cache = this.subjects[scope];
    let subject = cache.get(id);
    if (!subject) {
      if (cache.size >= MAX_CACHED_SUBJECTS) cache.clear();
      const prefixed = `${this.prefix}${this.subjectTag(scope, id)}`;
      subject = { prefixed, block: `${prefixed}:blk`, rateLimit: new Map() };
      cache.set(id, subject);
    }
    return subject;
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
