import { rateLimitHeaders, Reason, Scope, toDecision, type CheckLimitResponse, type Decision, type LimitStatus } from '@floodgate/client';
import { describe, expect, it } from 'vitest';

function status(o: Partial<LimitStatus>): LimitStatus {
  return { scope: Scope.SCOPE_USER, limit: 20, remaining: 5, windowMs: 60_000, resetAfterMs: 30_000, retryAfterMs: 0, allowed: true, ...o };
}

function decision(o: Partial<CheckLimitResponse> & { statuses: LimitStatus[] }): Decision {
  const allowed = o.allowed ?? true;
  const reason = allowed ? Reason.REASON_OK : Reason.REASON_OVER_LIMIT;
  return toDecision({ allowed, reason, policy: 'ai', degraded: false, shadow: false, wouldAllow: allowed, ...o });
}

describe('rateLimitHeaders', () => {
  it('describes an allowed request by the key with the least room, in structured fields', () => {
    const d = decision({
      statuses: [status({ remaining: 9, resetAfterMs: 10_000 }), status({ scope: Scope.SCOPE_IP, limit: 20, remaining: 5, resetAfterMs: 29_001 })],
    });
    expect(rateLimitHeaders(d)).toEqual({ 'RateLimit-Policy': '"ai";q=20;w=60', RateLimit: '"ai";r=5;t=30' });
  });

  it('describes a deny by the key to wait longest for and adds Retry-After in whole seconds, rounded up', () => {
    const d = decision({
      allowed: false,
      statuses: [
        status({ remaining: 3, allowed: true }),
        status({ scope: Scope.SCOPE_IP, limit: 15, remaining: 0, allowed: false, retryAfterMs: 1_200, resetAfterMs: 40_000 }),
        status({ limit: 10, remaining: 0, allowed: false, retryAfterMs: 4_500, resetAfterMs: 50_000 }),
      ],
    });
    expect(rateLimitHeaders(d)).toEqual({ 'RateLimit-Policy': '"ai";q=10;w=60', RateLimit: '"ai";r=0;t=50', 'Retry-After': '5' });
  });

  it('never says Retry-After: 0 for a deny that is almost over', () => {
    const d = decision({ allowed: false, statuses: [status({ remaining: 0, allowed: false, retryAfterMs: 1, resetAfterMs: 1 })] });
    expect(rateLimitHeaders(d)['Retry-After']).toBe('1');
  });

  it('gives no quota fields when no key was counted', () => {
    expect(rateLimitHeaders(decision({ statuses: [], reason: Reason.REASON_ALLOWLISTED }))).toEqual({});
    expect(rateLimitHeaders(decision({ allowed: false, statuses: [], reason: Reason.REASON_DEGRADED_DENY }))).toEqual({});
  });

  it('gives Retry-After only for over-limit denies, not for a suspension', () => {
    const blocked = [status({ remaining: 0, allowed: false, retryAfterMs: 60_000 })];
    expect(rateLimitHeaders(decision({ allowed: false, statuses: blocked, reason: Reason.REASON_SUSPENDED }))['Retry-After']).toBeUndefined();
    expect(rateLimitHeaders(decision({ allowed: false, statuses: blocked }))['Retry-After']).toBe('60');
  });

  it('describes no quota for a suspension, even when the server sent the keys it counted', () => {
    // As the server answers a user-scoped policy: statuses of keys it looked at, none of them binding.
    const counted = [status({ remaining: 0, allowed: true, resetAfterMs: 0 }), status({ scope: Scope.SCOPE_IP, limit: 30 })];
    const d = decision({ allowed: false, statuses: counted, reason: Reason.REASON_SUSPENDED });
    expect(d).toMatchObject({ binding: undefined, limit: undefined, remaining: undefined, windowMs: undefined, resetAfterMs: undefined, retryAfterMs: 0 });
    expect(rateLimitHeaders(d)).toEqual({});
    // A decision built by hand with a binding key gets none either.
    expect(rateLimitHeaders({ ...d, binding: counted[0] })).toEqual({});
  });

  it('escapes the policy name as a structured-field string', () => {
    const d = decision({ policy: 'a"b\\c\u00e9', statuses: [status({})] });
    expect(rateLimitHeaders(d)['RateLimit-Policy']).toBe('"a\\"b\\\\c?";q=20;w=60');
  });
});
