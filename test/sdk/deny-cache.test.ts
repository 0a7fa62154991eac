import { createClient, Reason, type FloodgateClient } from '@floodgate/client';
import { afterEach, beforeEach, describe, expect, inject, it, vi, type MockInstance } from 'vitest';
import { grpcStack, policy } from '../support/stack.js';

const redisUrl = inject('redisUrl');

let stack: Awaited<ReturnType<typeof grpcStack>>;
let checksAtServer: MockInstance;
let cached: FloodgateClient;

beforeEach(async () => {
  stack = await grpcStack('redis', redisUrl, {
    policies: [policy({ name: 'burst', limit: 3, scopes: ['user'] }), policy({ name: 'blink', limit: 1, windowMs: 400, scopes: ['user'] })],
  });
  // Counts the checks that reach the real server's limiter.
  checksAtServer = vi.spyOn(stack.limiter, 'checkInto');
  cached = createClient({ address: `127.0.0.1:${stack.grpc.port}`, deadlineMs: 5_000, denyCache: true });
});

afterEach(async () => {
  cached.close();
  await stack.close();
});

describe('the deny cache', () => {
  it('answers a denied key locally: one RPC for 20 denied checks, where the plain client makes 20', async () => {
    for (let i = 0; i < 3; i++) expect((await cached.checkLimit({ policy: 'burst', userId: 'abuser' })).allowed).toBe(true);
    checksAtServer.mockClear();

    const answers = [];
    for (let i = 0; i < 20; i++) answers.push(await cached.checkLimit({ policy: 'burst', userId: 'abuser' }));
    expect(answers.every((d) => !d.allowed && d.reason === Reason.REASON_OVER_LIMIT)).toBe(true);
    expect(answers.map((d) => d.cached)).toEqual([false, ...Array(19).fill(true)]);
    expect(answers[19]!.retryAfterMs).toBeGreaterThan(0);
    expect(answers[19]!.retryAfterMs).toBeLessThanOrEqual(answers[0]!.retryAfterMs);
    expect(checksAtServer).toHaveBeenCalledTimes(1);

    checksAtServer.mockClear();
    for (let i = 0; i < 20; i++) expect((await stack.client.checkLimit({ policy: 'burst', userId: 'abuser' })).allowed).toBe(false);
    expect(checksAtServer).toHaveBeenCalledTimes(20);
  });

  it('leaves other users, policies and costs to the server', async () => {
    for (let i = 0; i < 4; i++) await cached.checkLimit({ policy: 'burst', userId: 'abuser' });
    checksAtServer.mockClear();
    expect((await cached.checkLimit({ policy: 'burst', userId: 'bystander' })).allowed).toBe(true);
    expect((await cached.checkLimit({ policy: 'blink', userId: 'abuser' })).allowed).toBe(true);
    expect((await cached.checkLimit({ policy: 'burst', userId: 'abuser', cost: 2 })).cached).toBe(false);
    expect(checksAtServer).toHaveBeenCalledTimes(3);
  });

  it('asks the server again once retry-after has passed', async () => {
    expect((await cached.checkLimit({ policy: 'blink', userId: 'u' })).allowed).toBe(true);
    const deny = await cached.checkLimit({ policy: 'blink', userId: 'u' });
    expect(deny).toMatchObject({ allowed: false, cached: false });
    expect((await cached.checkLimit({ policy: 'blink', userId: 'u' })).cached).toBe(true);
    checksAtServer.mockClear();

    // The client waits in real time; the server's clock is moved by hand past the window.
    await new Promise((r) => setTimeout(r, deny.retryAfterMs + 50));
    stack.clock.advance(deny.retryAfterMs + 50);
    const after = await cached.checkLimit({ policy: 'blink', userId: 'u' });
    expect(after).toMatchObject({ allowed: true, cached: false });
    expect(checksAtServer).toHaveBeenCalledTimes(1);
  });

  it('answers cached items of a batch locally and sends only the rest, numbering item errors as sent by the caller', async () => {
    for (let i = 0; i < 4; i++) await cached.checkLimit({ policy: 'burst', userId: 'abuser' });
    checksAtServer.mockClear();
    const batchesAtServer = vi.spyOn(stack.limiter, 'checkMany');
    const { results } = await cached.checkLimits({
      checks: [{ policy: 'burst', userId: 'abuser' }, { policy: 'burst', userId: 'fresh' }, { policy: 'nope', userId: 'fresh' }],
    });
    expect(results[0]!.response).toMatchObject({ allowed: false, cached: true });
    expect(results[1]!.response).toMatchObject({ allowed: true, cached: false });
    expect(results[2]!.error?.code).toBe('NOT_FOUND');
    expect(results[2]!.error?.message).toMatch(/^checks\[2\]\./);
    // Only the two uncached checks reached the server, in one batch.
    expect(batchesAtServer).toHaveBeenCalledTimes(1);
    expect(batchesAtServer.mock.calls[0]![0].map((c) => c.userId)).toEqual(['fresh', 'fresh']);

    batchesAtServer.mockClear();
    const allCached = await cached.checkLimits({ checks: [{ policy: 'burst', userId: 'abuser' }] });
    expect(allCached.results[0]!.response?.cached).toBe(true);
    expect(batchesAtServer).not.toHaveBeenCalled();
    expect(checksAtServer).not.toHaveBeenCalled();
  });
});
