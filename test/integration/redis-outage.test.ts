import { createClient, Reason, type CheckLimitResponse, type FloodgateClient } from '@floodgate/client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/src/clock.js';
import { Readiness } from '../../server/src/grpc/readiness.js';
import { startGrpcServer, type GrpcServer } from '../../server/src/grpc/server.js';
import { RateLimiter } from '../../server/src/limiter/rate-limiter.js';
import { IpAllowlist } from '../../server/src/net/ip.js';
import type { Policy } from '../../server/src/policy/policy.js';
import { StaticPolicySource } from '../../server/src/policy/policy-source.js';
import { FailoverStore } from '../../server/src/store/failover-store.js';
import { KeySpace } from '../../server/src/store/keys.js';
import { MemoryStore } from '../../server/src/store/memory-store.js';
import { RedisStore } from '../../server/src/store/redis-store.js';
import { healthStatus } from '../support/probes.js';
import { RedisServer } from '../support/redis-server.js';
import { policy, silentLog, uniquePrefix } from '../support/stack.js';

const COMMAND_TIMEOUT_MS = 200;
const DEADLINE_MS = 1_000;
const POLICIES: Policy[] = [
  policy({ name: 'loc', limit: 5, failureMode: 'local', scopes: ['user'] }),
  policy({ name: 'opn', limit: 5, failureMode: 'open', scopes: ['user'] }),
  policy({ name: 'cls', limit: 5, failureMode: 'closed', scopes: ['user'] }),
];

/** The production wiring (failover store, readiness) around a Redis this test may kill, pause and restart. */
async function failoverStack(redis: RedisServer, policies: Policy[]) {
  const clock = new ManualClock();
  const primary = await RedisStore.connect({ target: { kind: 'single', url: redis.url }, commandTimeoutMs: COMMAND_TIMEOUT_MS, connectTimeoutMs: 2_000 });
  let readiness: Readiness | undefined;
  const store = new FailoverStore({
    primary,
    local: new MemoryStore(clock),
    probeIntervalMs: 100,
    log: silentLog,
    onAvailabilityChange: (available) => readiness?.storeAvailability(available),
  });
  const source = new StaticPolicySource(policies);
  const limiter = new RateLimiter({ store, policies: source, keys: new KeySpace(uniquePrefix()), clock, allowlist: new IpAllowlist([]), maxBatch: 100 });
  const grpc: GrpcServer = await startGrpcServer({ host: '127.0.0.1', port: 0, limiter, log: silentLog });
  readiness = new Readiness(grpc.health, () => source.list().every((p) => p.failureMode === 'local'));
  const address = `127.0.0.1:${grpc.port}`;
  const client = createClient({ address, deadlineMs: DEADLINE_MS });
  return {
    address,
    client,
    close: async () => {
      client.close();
      grpc.server.forceShutdown();
      await store.close();
    },
  };
}

interface Sample {
  ms: number;
  policy: string;
  res?: CheckLimitResponse;
  err?: unknown;
}

/** Concurrent callers over every policy until stopped; records each call's latency and answer. */
function load(client: FloodgateClient, workers = 16) {
  const samples: Sample[] = [];
  let running = true;
  let n = 0;
  const loops = Array.from({ length: workers }, async (_, w) => {
    while (running) {
      const p = POLICIES[n++ % POLICIES.length]!.name;
      const started = performance.now();
      try {
        const res = await client.checkLimit({ policy: p, userId: `load-${w}-${n % 50}` });
        samples.push({ ms: performance.now() - started, policy: p, res });
      } catch (err) {
        samples.push({ ms: performance.now() - started, policy: p, err });
      }
    }
  });
  return {
    samples,
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return samples;
    },
  };
}

async function until(what: string, cond: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('Redis outage', () => {
  let redis: RedisServer;
  let stack: Awaited<ReturnType<typeof failoverStack>>;
  beforeEach(async () => {
    redis = await RedisServer.start();
    stack = await failoverStack(redis, POLICIES);
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
  }

  function expectEveryCallAnswered(samples: Sample[]): void {
    expect(samples.length).toBeGreaterThan(100);
    expect(samples.filter((s) => s.err).map((s) => String(s.err))).toEqual([]);
    // Every call answered well inside its deadline, outage or not.
    expect(Math.max(...samples.map((s) => s.ms))).toBeLessThan(DEADLINE_MS);
    expect(samples.some((s) => s.res!.degraded)).toBe(true);
    expect(samples.some((s) => !s.res!.degraded)).toBe(true);
  }

  it('killed under load: every call answers by its failure mode, health goes NOT_SERVING, and all comes back when Redis restarts', async () => {
    expect(await check('loc', 'before')).toMatchObject({ allowed: true, degraded: false });
    expect(await health()).toBe('SERVING');
    const traffic = load(stack.client);
    await new Promise((r) => setTimeout(r, 200));

    await redis.stop();
    await until('NOT_SERVING', async () => (await health()) === 'NOT_SERVING');
    await expectFailureModes('during-kill');

    redis = await RedisServer.start(redis.port);
    await until('SERVING', async () => (await health()) === 'SERVING');
    await until('answers from Redis', async () => !(await check('cls', 'after')).degraded);
    expect(await check('loc', 'during-kill')).toMatchObject({ allowed: true, degraded: false, reason: Reason.REASON_OK });
    await new Promise((r) => setTimeout(r, 200));

    const samples = await traffic.stop();
    expectEveryCallAnswered(samples);
    expect(samples.at(-1)!.res!.degraded).toBe(false);
  });

  it('paused (a Redis that answers nothing): calls give up after the command timeout, then fall back at once until it answers again', async () => {
    const traffic = load(stack.client);
    await new Promise((r) => setTimeout(r, 200));

    redis.pause();
    await until('NOT_SERVING', async () => (await health()) === 'NOT_SERVING');
    await expectFailureModes('during-pause');
    redis.resume();
    await until('SERVING', async () => (await health()) === 'SERVING');
    await until('answers from Redis', async () => !(await check('cls', 'after')).degraded);
    await new Promise((r) => setTimeout(r, 200));

    const samples = await traffic.stop();
    expectEveryCallAnswered(samples);
    // Only the calls caught by the pause waited for the command timeout.
    expect(samples.filter((s) => s.ms >= COMMAND_TIMEOUT_MS).length).toBeLessThanOrEqual(16 * 2);
  });

  it('stays SERVING through an outage when every policy falls back to local enforcement', async () => {
    await stack.close();
    stack = await failoverStack(redis, POLICIES.filter((p) => p.failureMode === 'local'));
    await redis.stop();
    expect(await check('loc', 'x')).toMatchObject({ allowed: true, degraded: true });
    expect(await health()).toBe('SERVING');
    redis = await RedisServer.start(redis.port);
    await until('answers from Redis', async () => !(await check('loc', 'y')).degraded);
    expect(await health()).toBe('SERVING');
  });
});
