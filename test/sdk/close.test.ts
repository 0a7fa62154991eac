import { createClient, RateLimitServiceService, TrackingServiceService } from '@floodgate/client';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { fakeGrpcServer } from '../support/fake-grpc.js';
import { ROOT } from '../support/server-process.js';
import { grpcStack } from '../support/stack.js';

/**
 * In a process of its own, so that a handle close() leaves open shows as a process that does not
 * exit: for each transport, on a cold and a warm connection, calls made in the same turn as
 * close() and calls made after it; prints how each settled.
 */
const script = (address: string) => `
import { createClient } from '@floodgate/client';
const decided = (d) => (d.unavailable ? 'unavailable: ' + d.error.message : 'decided');
const how = (p, of) => p.then(of, (e) => e.codeName + ': ' + e.message);
const out = {};
for (const checkTransport of ['stream', 'unary']) {
  for (const warm of [false, true]) {
    const c = createClient({ address: '${address}', checkTransport, onUnavailable: 'allow' });
    if (warm) await c.checkLimit({ policy: 'general', userId: 'closer-warm' });
    const before = [
      how(c.checkLimit({ policy: 'general', userId: 'closer' }), decided),
      how(c.checkLimit({ policy: 'general', userId: 'closer-2' }), decided),
      how(c.checkLimits({ checks: [{ policy: 'general', userId: 'closer' }] }), (r) => decided(r.results[0].response)),
      how(c.getUserStats({ userId: 'closer' }), () => 'answered'),
    ];
    const closed = c.close();
    const after = [
      how(c.checkLimit({ policy: 'general', userId: 'closer' }), decided),
      how(c.checkLimits({ checks: [{ policy: 'general', userId: 'closer' }] }), () => 'answered'),
      how(c.getUserStats({ userId: 'closer' }), () => 'answered'),
    ];
    out[checkTransport + (warm ? ' warm' : ' cold')] = { before: await Promise.all(before), after: await Promise.all(after) };
    await closed;
  }
}
console.log(JSON.stringify(out));
`;

describe('close()', () => {
  let stack: Awaited<ReturnType<typeof grpcStack>>;
  beforeAll(async () => {
    stack = await grpcStack('redis', inject('redisUrl'));
  });
  afterAll(() => stack.close());

  it('answers every call made before it, refuses every call after it, and leaves nothing that keeps the process alive', async () => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script(stack.address)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => (out += b.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => child.kill(), 15_000);
      child.on('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(code).toBe(0);
    const closed = 'FAILED_PRECONDITION: client is closed';
    const each = { before: ['decided', 'decided', 'decided', 'answered'], after: [closed, closed, closed] };
    expect(JSON.parse(out)).toEqual({ 'stream cold': each, 'stream warm': each, 'unary cold': each, 'unary warm': each });
  }, 20_000);

  it.each(['stream', 'unary'] as const)('resolves by the deadline of the calls in flight when the server never answers (checks by %s)', async (checkTransport) => {
    const silent = { checkLimit: () => {}, checkLimitStream: () => {}, getUserStats: () => {} };
    const server = await fakeGrpcServer([
      [RateLimitServiceService, silent],
      [TrackingServiceService, silent],
    ]);
    try {
      const client = createClient({ address: server.address, checkTransport, deadlineMs: 300 });
      const check = client.checkLimit({ policy: 'ai', userId: 'u' }).catch((e: { codeName: string }) => e.codeName);
      const stats = client.getUserStats({ userId: 'u' }).catch((e: { codeName: string }) => e.codeName);
      const started = performance.now();
      await client.close();
      expect(performance.now() - started).toBeLessThan(1_500);
      expect([await check, await stats]).toEqual(['DEADLINE_EXCEEDED', 'DEADLINE_EXCEEDED']);
    } finally {
      server.close();
    }
  });
});
