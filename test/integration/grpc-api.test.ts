import { Reason } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { failure } from '../support/failure.js';
import { grpcStack } from '../support/stack.js';

const redisUrl = inject('redisUrl');
let stack: Awaited<ReturnType<typeof grpcStack>>;

beforeAll(async () => {
  stack = await grpcStack('redis', redisUrl);
});
afterAll(() => stack.close());

describe('RateLimitService over gRPC', () => {
  it('answers CheckLimit with the default policies', async () => {
    const r = await stack.client.checkLimit({ policy: 'ai', userId: 'grpc-user', ip: '203.0.113.1' });
    expect(r.allowed).toBe(true);
    expect(r.reason).toBe(Reason.REASON_OK);
    expect(r.statuses.map((s) => [s.limit, s.remaining, s.windowMs])).toEqual([
      [20, 19, 60_000],
      [20, 19, 60_000],
    ]);
  });

  it('answers CheckLimits item by item, errors included', async () => {
    const r = await stack.client.checkLimits({
      checks: [
        { policy: 'tts', userId: 'batch' },
        { policy: 'nope', userId: 'batch' },
      ],
    });
    expect(r.results[0]!.response!.allowed).toBe(true);
    expect(r.results[1]!.error).toEqual({ code: 'NOT_FOUND', message: 'checks[1].policy: no policy named "nope"' });
  });

  it('reports every default policy in GetLimitStatus', async () => {
    const r = await stack.client.getLimitStatus({ userId: 'grpc-user' });
    expect(r.policies.map((p) => [p.policy!.name, p.policy!.limit, p.policy!.windowMs])).toEqual([
      ['general', 100, 900_000],
      ['ai', 20, 60_000],
      ['pronunciation', 10, 60_000],
      ['tts', 30, 60_000],
      ['image', 15, 60_000],
    ]);
    expect(r.policies[1]!.statuses[0]!.remaining).toBe(19);
  });

  const bad: Array<[string, Record<string, unknown>, status, RegExp]> = [
    ['missing policy', { policy: '', userId: 'u' }, status.INVALID_ARGUMENT, /^policy: is required/],
    ['malformed policy', { policy: 'A B', userId: 'u' }, status.INVALID_ARGUMENT, /^policy: /],
    ['unknown policy', { policy: 'video', userId: 'u' }, status.NOT_FOUND, /^policy: no policy named "video"/],
    ['no subject', { policy: 'ai' }, status.INVALID_ARGUMENT, /^user_id: user_id or ip is required/],
    ['invalid ip', { policy: 'ai', ip: '999.1.1.1' }, status.INVALID_ARGUMENT, /^ip: /],
    ['ip with zone', { policy: 'ai', ip: 'fe80::1%eth0' }, status.INVALID_ARGUMENT, /^ip: /],
    // Refused by the client before it is sent (the server's own answer is in check-stream.test.ts).
    ['cost 0', { policy: 'ai', userId: 'u', cost: 0 }, status.INVALID_ARGUMENT, /^cost: must be a whole number from 1 to 4294967295/],
    ['cost over limit', { policy: 'ai', userId: 'u', cost: 21 }, status.INVALID_ARGUMENT, /^cost: 21 exceeds the limit 20/],
    ['long user id', { policy: 'ai', userId: 'x'.repeat(257) }, status.INVALID_ARGUMENT, /^user_id: must be at most 256 bytes/],
    ['multibyte user id', { policy: 'ai', userId: 'é'.repeat(129) }, status.INVALID_ARGUMENT, /^user_id: must be at most 256 bytes/],
    ['control characters', { policy: 'ai', userId: 'a\nb' }, status.INVALID_ARGUMENT, /^user_id: must not contain control/],
  ];
  it.each(bad)('rejects %s with a status naming the field', async (_name, req, code, message) => {
    const err = await failure(stack.client.checkLimit(req));
    expect(err.codeName).toBe(status[code]);
    expect(err.message).toMatch(message);
  });

  it('rejects an empty or oversized batch', async () => {
    expect((await failure(stack.client.checkLimits({ checks: [] }))).message).toMatch(/^checks: must hold at least one/);
    const many = Array.from({ length: 101 }, () => ({ policy: 'ai', userId: 'u' }));
    expect((await failure(stack.client.checkLimits({ checks: many }))).message).toMatch(/^checks: holds 101 checks; at most 100/);
  });

});

describe('TrackingService over gRPC', () => {
  it('records activity and answers GetUserStats', async () => {
    expect(await stack.client.recordActivity({ userId: 'tracked', activity: 'ai', ip: '203.0.113.4', sessionId: 'web-1' })).toEqual({
      buffered: false,
    });
    await stack.client.checkLimit({ policy: 'ai', userId: 'tracked', recordActivity: 'tts', sessionId: 'web-1' });
    const r = await stack.client.getUserStats({ userId: 'tracked' });
    expect(r.found).toBe(true);
    expect(r.stats).toMatchObject({
      userId: 'tracked',
      totalRequests: 2,
      sessionCount: 1,
      currentSessionId: 'web-1',
      lastIp: '203.0.113.4',
      suspension: { suspended: false },
      peakMinute: { requests: 2 },
    });
    expect(r.stats!.activities.map((a) => a.activity).sort()).toEqual(['ai', 'tts']);
    expect(await stack.client.getUserStats({ userId: 'stranger' })).toEqual({ stats: undefined, found: false });
  });

  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['missing user', { activity: 'ai' }, /^user_id: must not be empty/],
    ['missing activity', { userId: 'u' }, /^activity: must not be empty/],
    ['long activity', { userId: 'u', activity: 'a'.repeat(65) }, /^activity: must be at most 64 bytes/],
    ['bad ip', { userId: 'u', activity: 'ai', ip: 'nope' }, /^ip: /],
    ['control chars in session', { userId: 'u', activity: 'ai', sessionId: 'a\u0000' }, /^session_id: must not contain control/],
    ['event too old', { userId: 'u', activity: 'ai', atMs: 1 }, /^at_ms: is more than 7 days in the past/],
    ['event in the future', { userId: 'u', activity: 'ai', atMs: Date.UTC(2030, 0, 1) }, /^at_ms: is more than 60000 ms in the future/],
  ];
  it.each(bad)('rejects RecordActivity with %s as INVALID_ARGUMENT naming the field', async (_name, req, message) => {
    const err = await failure(stack.client.recordActivity(req));
    expect(err.codeName).toBe('INVALID_ARGUMENT');
    expect(err.message).toMatch(message);
  });

  it('rejects record_activity without a user, and session_id without record_activity', async () => {
    const noUser = await failure(stack.client.checkLimit({ policy: 'ai', ip: '203.0.113.4', recordActivity: 'ai' }));
    expect(noUser.message).toMatch(/^record_activity: needs user_id/);
    const noActivity = await failure(stack.client.checkLimit({ policy: 'ai', userId: 'u', sessionId: 's' }));
    expect(noActivity.message).toMatch(/^session_id: applies only with record_activity/);
    expect((await failure(stack.client.getUserStats({ userId: '' }))).message).toMatch(/^user_id: must not be empty/);
  });
});
