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
}

export function escapeId(id: string): string {
  return encodeURIComponent(id);
}
