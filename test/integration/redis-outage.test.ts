import { Reason } from '@floodgate/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Policy } from '../../server/src/policy/policy.js';
import { eventually } from '../support/eventually.js';
import { checkLoad, type LoadSummary } from '../support/load.js';
import { healthStatus } from '../support/probes.js';
import { RedisServer } from '../support/redis-server.js';
import { grpcStack, policy } from '../support/stack.js';

const COMMAND_TIMEOUT_MS = 200;
/** A deadline an app would give its sidecar; every call must answer well within it. */
const DEADLINE_MS = 1_000;
const FAILOVER = { commandTimeoutMs: COMMAND_TIMEOUT_MS, probeIntervalMs: 100 };
const POLICIES: Policy[] = [
  policy({ name: 'loc', limit: 5, failureMode: 'local', scopes: ['user'] }),
  policy({ name: 'opn', limit: 5, failureMode: 'open', scopes: ['user'] }),
  policy({ name: 'cls', limit: 5, failureMode: 'closed', scopes: ['user'] }),
];

describe('Redis outage', () => {
  let redis: RedisServer;
  let stack: Awaited<ReturnType<typeof grpcStack>>;
  const open = (policies: Policy[], probeIntervalMs = FAILOVER.probeIntervalMs) =>
    grpcStack('redis', redis.url, { policies, failover: { ...FAILOVER, probeIntervalMs } });
  beforeEach(async () => {
    redis = await RedisServer.start();
    stack = await open(POLICIES);
  });
  afterEach(async () => {
    await stack.close();
    await redis.stop();
  });

  const health = () => healthStatus(stack.address);
  const check = (p: string, userId: string) => stack.client.checkLimit({ policy: p, userId });

  /** What each failure mode answers while Redis is unreachable. */
  async function expectFailureModes(user: string): Promise<void> {
    for (let i = 0; i < 5; i++) expect(await check('loc', user)).toMatchObject({ allowed: true, degraded: true, reason: Reason.REASON_OK });
    // `local` still enforces the limit, from the in-process store.
    expect(await check('loc', user)).toMatchObject({ allowed: false, degraded: true, reason: Reason.REASON_OVER_LIMIT });
    expect(await check('opn', user)).toMatchObject({ allowed: true, degraded: true, reason: Reason.REASON_DEGRADED_ALLOW });
    expect(await check('cls', user)).toMatchObject({ allowed: false, degraded: true, reason: Reason.REASON_DEGRADED_DENY });
    // Batches and status reads answer too, marked degraded.
    const batch = await stack.client.checkLimits({ checks: ['loc', 'opn', 'cls'].map((p) => ({ policy: p, userId: `${user}-batch` })) });
    expect(batch.results.map((r) => [r.response!.degraded, r.response!.reason])).toEqual([
      [true, Reason.REASON_OK],
      [true, Reason.REASON_DEGRADED_ALLOW],
      [true, Reason.REASON_DEGRADED_DENY],
    ]);
    expect(await stack.client.getLimitStatus({ userId: user })).toMatchObject({ degraded: true });
  }

  function expectEveryCallAnswered(load: LoadSummary): void {
    expect(load.calls).toBeGreaterThan(100);
    expect(load.errors).toEqual([]);
    // Every call answered well inside its deadline, outage or not.
    expect(load.maxMs).toBeLessThan(DEADLINE_MS);
    expect(load.degraded).toBeGreaterThan(0);
    expect(load.fromRedis).toBeGreaterThan(0);
  }

  it('killed under load: every call answers by its failure mode, health goes NOT_SERVING, and all comes back when Redis restarts', async () => {
    expect(await check('loc', 'before')).toMatchObject({ allowed: true, degraded: false });
    expect(await health()).toBe('SERVING');
    const traffic = checkLoad(stack.client, POLICIES.map((p) => p.name), { slowMs: COMMAND_TIMEOUT_MS });
    await new Promise((r) => setTimeout(r, 200));

    await redis.stop();
    await eventually('NOT_SERVING', async () => (await health()) === 'NOT_SERVING', 10_000);
    // Out of rotation, but alive: a liveness probe must not restart the replica.
    expect(await healthStatus(stack.address, 'liveness')).toBe('SERVING');
    await expectFailureModes('during-kill');

    redis = await RedisServer.start(redis.port);
    await eventually('SERVING', async () => (await health()) === 'SERVING', 10_000);
    await eventually('answers from Redis', async () => !(await check('cls', 'after')).degraded, 10_000);
    expect(await check('loc', 'during-kill')).toMatchObject({ allowed: true, degraded: false, reason: Reason.REASON_OK });
    await new Promise((r) => setTimeout(r, 200));

    const load = await traffic.stop();
    expectEveryCallAnswered(load);
    expect(load.lastDegraded).toBe(false);
  });

  it('paused (a Redis that answers nothing): calls give up after the command timeout, then fall back at once until it answers again', async () => {
    const traffic = checkLoad(stack.client, POLICIES.map((p) => p.name), { slowMs: COMMAND_TIMEOUT_MS });
    await new Promise((r) => setTimeout(r, 200));

    redis.pause();
    await eventually('NOT_SERVING', async () => (await health()) === 'NOT_SERVING', 10_000);
    await expectFailureModes('during-pause');
    redis.resume();
    await eventually('SERVING', async () => (await health()) === 'SERVING', 10_000);
    await eventually('answers from Redis', async () => !(await check('cls', 'after')).degraded, 10_000);
    await new Promise((r) => setTimeout(r, 200));

    const load = await traffic.stop();
    expectEveryCallAnswered(load);
    // Only the calls caught by the pause waited for the command timeout.
    expect(load.slow).toBeLessThanOrEqual(16 * 2);
  });

  it('one slow reply (Redis paused just past the command timeout) degrades only that call: health stays SERVING, the next call goes to Redis', async () => {
    // No probe within the test: had the breaker tripped, nothing would close it again.
    await stack.close();
    stack = await open(POLICIES, 60_000);
    expect(await check('cls', 'slow')).toMatchObject({ allowed: true, degraded: false });
    redis.pause();
    const slow = check('cls', 'slow');
    await new Promise((r) => setTimeout(r, COMMAND_TIMEOUT_MS + 100));
    // Answered by its failure mode (closed: deny), within its deadline; Redis is still paused.
    expect(await slow).toMatchObject({ allowed: false, degraded: true, reason: Reason.REASON_DEGRADED_DENY });
    expect(await health()).toBe('SERVING');
    redis.resume();
    // Not tripped: the next calls are decided by Redis, not by the failure modes.
    for (let i = 0; i < 3; i++) expect(await check('cls', `after-slow-${i}`)).toMatchObject({ allowed: true, degraded: false });
    expect(await health()).toBe('SERVING');
  });

  it('trips after REDIS_FAILURE_THRESHOLD consecutive slow replies (connection still up), not before', async () => {
    for (let i = 1; i <= 3; i++) {
      redis.pause();
      expect(await check('opn', `slow-${i}`)).toMatchObject({ allowed: true, degraded: true, reason: Reason.REASON_DEGRADED_ALLOW });
      expect(await health()).toBe(i < 3 ? 'SERVING' : 'NOT_SERVING');
      redis.resume();
    }
    // Redis answers again: the probe finds it and closes the breaker.
    await eventually('SERVING', async () => (await health()) === 'SERVING', 10_000);
    expect(await check('cls', 'after-trip')).toMatchObject({ allowed: true, degraded: false });
  });

  it('stays SERVING through an outage when every policy falls back to local enforcement', async () => {
    await stack.close();
    stack = await open(POLICIES.filter((p) => p.failureMode === 'local'));
    await redis.stop();
    expect(await check('loc', 'x')).toMatchObject({ allowed: true, degraded: true });
    expect(await health()).toBe('SERVING');
    redis = await RedisServer.start(redis.port);
    await eventually('answers from Redis', async () => !(await check('loc', 'y')).degraded, 10_000);
    expect(await health()).toBe('SERVING');
  });
});
