import { createClient, Reason, type FloodgateClient } from '@floodgate/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { startGrpcServer, type GrpcServer } from '../../server/src/grpc/server.js';
import { AdminAuth } from '../../server/src/admin/admin-auth.js';
import { failure } from '../support/failure.js';
import { grpcStack, silentLog } from '../support/stack.js';

const redisUrl = inject('redisUrl');
let stack: Awaited<ReturnType<typeof grpcStack>>;

beforeAll(async () => {
  stack = await grpcStack('redis', redisUrl);
});
afterAll(() => stack.close());

function clientWith(token: string | undefined, port = stack.grpc.port): FloodgateClient {
  return createClient({ address: `127.0.0.1:${port}`, token, deadlineMs: 5_000 });
}

describe('AdminService over gRPC', () => {
  it('serves every admin RPC to a caller with a valid token', async () => {
    const { client } = stack;
    await client.recordActivity({ userId: 'adm-1', activity: 'ai' });
    await client.recordActivity({ userId: 'adm-2', activity: 'tts' });
    await client.checkLimit({ policy: 'ai', userId: 'adm-1' });

    const list = await client.admin.listUsers({ pageSize: 1 });
    expect(list.total).toBe(2);
    expect(list.users).toHaveLength(1);
    const next = await client.admin.listUsers({ pageSize: 1, pageToken: list.nextPageToken });
    expect([list.users[0]!.userId, next.users[0]!.userId].sort()).toEqual(['adm-1', 'adm-2']);
    expect(next.nextPageToken).toBe('');

    const detail = await client.admin.getUserDetail({ userId: 'adm-1' });
    expect(detail.found).toBe(true);
    expect(detail.stats!.totalRequests).toBe(1);
    expect(detail.limits.find((l) => l.policy!.name === 'ai')!.statuses[0]!.remaining).toBe(19);

    const stats = await client.admin.getStatistics();
    expect(stats).toMatchObject({ usersTracked: 2, activeLastHour: 2, suspendedUsers: 0 });
    expect(stats.hourlyPeaks[0]!.users).toBe(2);

    const susp = await client.admin.setSuspension({ userId: 'adm-1', suspended: true, reason: 'test', durationMs: 60_000 });
    expect(susp.suspension).toMatchObject({ suspended: true, reason: 'test' });
    expect((await client.checkLimit({ policy: 'ai', userId: 'adm-1' })).reason).toBe(Reason.REASON_SUSPENDED);
    expect((await client.admin.listUsers({ suspendedOnly: true })).users.map((u) => u.userId)).toEqual(['adm-1']);
    await client.admin.setSuspension({ userId: 'adm-1', suspended: false });
    expect((await client.checkLimit({ policy: 'ai', userId: 'adm-1' })).reason).toBe(Reason.REASON_OK);

    expect((await client.admin.resetRateLimits({ userId: 'adm-1', policy: 'ai' })).keysDeleted).toBe(1);
    expect((await client.admin.resetTracking({ userId: 'adm-2' })).keysDeleted).toBe(3);
    expect((await client.getUserStats({ userId: 'adm-2' })).found).toBe(false);

    const store = await client.admin.getStoreStatus();
    expect(store).toMatchObject({ mode: 'single', connected: true, degraded: false });
    expect(store.latencyMs).toBeGreaterThan(0);
    expect(store.usedMemoryBytes).toBeGreaterThan(0);
    expect(store.keys).toBeGreaterThan(0);
    expect(store.version).toMatch(/^\d+\.\d+/);
  });

  it('answers UNAUTHENTICATED for a missing or wrong token, on every admin RPC', async () => {
    for (const token of [undefined, 'wrong-token', `${'test-admin-token'}x`]) {
      const c = clientWith(token);
      try {
        const calls = [
          c.admin.listUsers(),
          c.admin.getUserDetail({ userId: 'u' }),
          c.admin.getStatistics(),
          c.admin.setSuspension({ userId: 'u', suspended: true }),
          c.admin.resetTracking({ userId: 'u' }),
          c.admin.resetRateLimits({ userId: 'u' }),
          c.admin.getStoreStatus(),
        ];
        for (const call of calls) expect((await failure(call)).codeName).toBe('UNAUTHENTICATED');
      } finally {
        c.close();
      }
    }
    // A rejected suspension changed nothing.
    expect((await stack.client.checkLimit({ policy: 'ai', userId: 'u' })).reason).toBe(Reason.REASON_OK);
  });

  it('disables the admin API when no token is configured', async () => {
    let grpc: GrpcServer | undefined;
    const c = { current: undefined as FloodgateClient | undefined };
    try {
      grpc = await startGrpcServer({
        host: '127.0.0.1',
        port: 0,
        limiter: stack.limiter,
        tracker: stack.tracker,
        admin: stack.admin,
        adminAuth: new AdminAuth([]),
        log: silentLog,
      });
      c.current = clientWith('', grpc.port);
      const err = await failure(c.current.admin.getStoreStatus());
      expect(err.codeName).toBe('UNAUTHENTICATED');
      expect(err.message).toMatch(/admin API disabled/);
      expect(err.httpStatus).toBe(401);
    } finally {
      c.current?.close();
      grpc?.server.forceShutdown();
    }
  });

  const bad: Array<[string, (c: FloodgateClient) => Promise<unknown>, string, RegExp]> = [
    ['page_size over 500', (c) => c.admin.listUsers({ pageSize: 501 }), 'INVALID_ARGUMENT', /^page_size: must be at most 500/],
    ['a forged page_token', (c) => c.admin.listUsers({ pageToken: 'not-a-token' }), 'INVALID_ARGUMENT', /^page_token: /],
    ['detail without user_id', (c) => c.admin.getUserDetail({}), 'INVALID_ARGUMENT', /^user_id: must not be empty/],
    ['suspension without user_id', (c) => c.admin.setSuspension({ suspended: true }), 'INVALID_ARGUMENT', /^user_id: /],
    [
      'a suspension of 11 years',
      (c) => c.admin.setSuspension({ userId: 'u', suspended: true, reason: 'test', durationMs: 11 * 365 * 86_400_000 }),
      'INVALID_ARGUMENT',
      /^duration_ms: must be at most/,
    ],
    [
      'a duration on unsuspend',
      (c) => c.admin.setSuspension({ userId: 'u', suspended: false, durationMs: 5 }),
      'INVALID_ARGUMENT',
      /^duration_ms: applies only when suspending/,
    ],
    ['a reason over 512 bytes', (c) => c.admin.setSuspension({ userId: 'u', suspended: true, reason: 'é'.repeat(257) }), 'INVALID_ARGUMENT', /^reason: must be at most 512 bytes/],
    ['a reason on unsuspend', (c) => c.admin.setSuspension({ userId: 'u', suspended: false, reason: 'sorry' }), 'INVALID_ARGUMENT', /^reason: applies only when suspending/],
    ['suspending without a reason', (c) => c.admin.setSuspension({ userId: 'u', suspended: true, reason: ' ' }), 'INVALID_ARGUMENT', /^reason: is required when suspending/],
    ['reset tracking without user_id', (c) => c.admin.resetTracking({}), 'INVALID_ARGUMENT', /^user_id: /],
    ['reset rate limits without a subject', (c) => c.admin.resetRateLimits({}), 'INVALID_ARGUMENT', /^user_id: user_id or ip is required/],
    ['reset rate limits of a bad ip', (c) => c.admin.resetRateLimits({ ip: '1.2.3' }), 'INVALID_ARGUMENT', /^ip: /],
    ['reset rate limits of an unknown policy', (c) => c.admin.resetRateLimits({ userId: 'u', policy: 'video' }), 'NOT_FOUND', /^policy: no policy named "video"/],
  ];
  it.each(bad)('rejects %s naming the field', async (_name, call, code, message) => {
    const err = await failure(call(stack.client));
    expect(err.codeName).toBe(code);
    expect(err.message).toMatch(message);
    // The field the server's message names first, as on the errors the client raises itself.
    expect(err.field).toBe(/^(\w+): /.exec(err.message)![1]);
  });
});
