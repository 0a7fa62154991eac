import { DenyCache, Reason, Scope, toDecision, type Decision } from '@floodgate/client';
import { describe, expect, it } from 'vitest';

function denied(retryAfterMs: number, reason = Reason.REASON_OVER_LIMIT): Decision {
  const statuses = [{ scope: Scope.SCOPE_USER, limit: 3, remaining: 0, windowMs: 60_000, resetAfterMs: retryAfterMs + 1_000, retryAfterMs, allowed: false }];
  return toDecision({ allowed: false, reason, statuses, policy: 'ai', degraded: false, shadow: false, wouldAllow: false });
}

describe('DenyCache', () => {
  const req = { policy: 'ai', userId: 'alice', ip: '192.0.2.1' };

  it('answers a denied key until its retry-after passes, with the waits aged', () => {
    let now = 1_000;
    const cache = new DenyCache({}, () => now);
    cache.remember(req, denied(5_000));
    now += 2_000;
    const hit = cache.get(req)!;
    expect(hit).toMatchObject({ allowed: false, cached: true, retryAfterMs: 3_000, resetAfterMs: 4_000 });
    expect(hit.statuses[0]!.retryAfterMs).toBe(3_000);
    now += 3_000;
    expect(cache.get(req)).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('keys by policy, user, IP and cost', () => {
    const cache = new DenyCache({}, () => 0);
    cache.remember(req, denied(5_000));
    expect(cache.get(req)).toBeDefined();
    expect(cache.get({ ...req, cost: 1 })).toBeDefined();
    for (const other of [{ ...req, policy: 'tts' }, { ...req, userId: 'bob' }, { ...req, ip: '192.0.2.2' }, { ...req, cost: 2 }, { policy: 'ai', userId: 'alice' }]) {
      expect(cache.get(other)).toBeUndefined();
    }
  });

  it('remembers only over-limit denies with a wait', () => {
    const cache = new DenyCache({}, () => 0);
    cache.remember(req, denied(0));
    cache.remember(req, denied(5_000, Reason.REASON_SUSPENDED));
    cache.remember(req, denied(5_000, Reason.REASON_DEGRADED_DENY));
    cache.remember(req, { ...denied(5_000), allowed: true, reason: Reason.REASON_OK });
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the oldest', () => {
    const cache = new DenyCache({ maxEntries: 3 }, () => 0);
    for (const userId of ['a', 'b', 'c', 'd']) cache.remember({ policy: 'ai', userId }, denied(5_000));
    expect(cache.size).toBe(3);
    expect(cache.get({ policy: 'ai', userId: 'a' })).toBeUndefined();
    expect(cache.get({ policy: 'ai', userId: 'd' })).toBeDefined();
  });

  it('holds a deny at most maxMs, however long its retry-after, so a reset on the server is seen by then', () => {
    let now = 0;
    const cache = new DenyCache({ maxMs: 1_000 }, () => now);
    cache.remember(req, denied(60_000));
    now = 999;
    expect(cache.get(req)).toMatchObject({ cached: true, retryAfterMs: 59_001 });
    now = 1_000;
    expect(cache.get(req)).toBeUndefined();
    for (const maxMs of [0, -1, Number.NaN, '5' as never]) expect(() => new DenyCache({ maxMs })).toThrow(/^denyCache\.maxMs: /);
  });
});
