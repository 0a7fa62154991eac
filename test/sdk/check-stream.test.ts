import {
  CheckLimitStreamResponse,
  createClient,
  FloodgateError,
  RateLimitServiceService,
  Reason,
  type CheckLimitResponse,
  type CheckLimitStreamRequest,
} from '@floodgate/client';
import { Client, credentials, status, type ServerDuplexStream } from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { CheckStream, IDLE_STREAM_MS } from '../../client-sdk/src/check-stream.js';
import { eventually } from '../support/eventually.js';
import { answerAll, fakeGrpcServer } from '../support/fake-grpc.js';
import { RedisServer } from '../support/redis-server.js';
import { ROOT, ServerProcess } from '../support/server-process.js';
import { grpcStack } from '../support/stack.js';

const ALLOW = { allowed: true, reason: Reason.REASON_OK, statuses: [], policy: 'ai' };

type StreamCall = ServerDuplexStream<CheckLimitStreamRequest, CheckLimitStreamResponse>;

/** A check over `stream`, as a promise. */
function checked(stream: CheckStream, req: { policy: string; userId: string }): Promise<CheckLimitResponse> {
  return new Promise((resolve, reject) => stream.check(req, undefined, 2_000, { done: resolve, failed: reject, deadlineAt: 0 }));
}

/** An empty allow for each of the message's checks. */
const allowAll = (m: CheckLimitStreamRequest) => answerAll(m, ALLOW);

/**
 * A stream handler that allows every check `answerAfterMs` after it came, counts the streams it
 * was given and those the client half-closed or cancelled, and ends each `endAfterMs` after its
 * half-close.
 */
function allowingStreams(answerAfterMs = 0, endAfterMs = 0) {
  const counts = { opened: 0, halfClosed: 0, cancelled: 0 };
  const handler = (call: StreamCall) => {
    counts.opened++;
    call.on('cancelled', () => counts.cancelled++);
    call.on('data', (m: CheckLimitStreamRequest) => (answerAfterMs ? setTimeout(() => call.write(allowAll(m)), answerAfterMs) : call.write(allowAll(m))));
    call.on('end', () => {
      counts.halfClosed++;
      setTimeout(() => call.end(), endAfterMs);
    });
  };
  return { counts, handler };
}

/** A real gRPC server with the given RateLimitService handlers. */
const fakeServer = (handlers: object) => fakeGrpcServer([[RateLimitServiceService, handlers]]);

describe('checkLimit over CheckLimitStream', () => {
  const redisUrl = inject('redisUrl');
  let stack: Awaited<ReturnType<typeof grpcStack>>;
  beforeAll(async () => {
    stack = await grpcStack('redis', redisUrl);
  });
  afterAll(() => stack.close());

  it('is exact under concurrent checks, and gives a check its own error naming the field', async () => {
    const client = createClient({ address: stack.address });
    try {
      const decisions = await Promise.all(Array.from({ length: 60 }, () => client.checkLimit({ policy: 'image', userId: 'sdk-stream-exact' })));
      expect(decisions.filter((d) => d.allowed)).toHaveLength(15);
      expect(decisions.every((d) => !d.unavailable)).toBe(true);
      await expect(client.checkLimit({ policy: 'nope', userId: 'u' })).rejects.toMatchObject({ code: status.NOT_FOUND, field: 'policy', message: 'policy: no policy named "nope"' });
      await expect(client.checkLimit({ policy: 'image', userId: 'u', cost: 16 })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, field: 'cost', message: expect.stringMatching(/^cost: /) });
      await expect(client.checkLimit({ policy: 'image', userId: 'u' }, { requestId: 'not a valid id' })).rejects.toMatchObject({ message: expect.stringMatching(/^requestId: /) });
      await expect(client.checkLimit({ policy: 'image', userId: 'u', cost: -1 })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, message: expect.stringMatching(/^cost: must be a whole number/) });
      // One stream carried all of them.
      expect(stack.grpc.checkStreams.size).toBe(1);
    } finally {
      client.close();
    }
  });
});

describe('the check stream when things go wrong', () => {
  it('replaces a stream that answered nothing for a whole deadline', async () => {
    let streams = 0;
    // The first stream is stuck for good; later ones answer.
    const server = await fakeServer({
      checkLimitStream: (call: StreamCall) => {
        const stuck = ++streams === 1;
        call.on('data', (m: CheckLimitStreamRequest) => stuck || call.write(allowAll(m)));
        call.on('end', () => call.end());
      },
    });
    const client = createClient({ address: server.address, deadlineMs: 300, onUnavailable: 'deny', onUnavailableEvent: () => {} });
    try {
      const first = await client.checkLimit({ policy: 'ai', userId: 'a' });
      expect(first).toMatchObject({ allowed: false, unavailable: true });
      expect(first.error?.code).toBe(status.DEADLINE_EXCEEDED);
      const second = await client.checkLimit({ policy: 'ai', userId: 'a' });
      expect(second).toMatchObject({ allowed: true, unavailable: false });
      expect(streams).toBe(2);
    } finally {
      client.close();
      server.close();
    }
  });

  it('settles each check at its own deadline when checks with different deadlines are in flight', async () => {
    // Answers only the checks of user "answered": the stream is alive, the other checks just slow.
    const server = await fakeServer({
      checkLimitStream: (call: StreamCall) =>
        call.on('data', (m: CheckLimitStreamRequest) => {
          const decisions = m.checks.filter((c) => c.check?.userId === 'answered').map((c) => ({ id: c.id, response: ALLOW }));
          if (decisions.length) call.write(CheckLimitStreamResponse.fromPartial({ decisions }));
        }),
    });
    const client = createClient({ address: server.address, deadlineMs: 5_000, onUnavailableEvent: () => {} });
    try {
      const started = performance.now();
      const settledAfter = (p: Promise<unknown>) => p.then(() => -1, () => performance.now() - started);
      const long = settledAfter(client.checkLimit({ policy: 'ai', userId: 'slow' }, { deadlineMs: 1_500 }));
      const short = settledAfter(client.checkLimit({ policy: 'ai', userId: 'slow' }, { deadlineMs: 200 }));
      await new Promise((r) => setTimeout(r, 20));
      expect((await client.checkLimit({ policy: 'ai', userId: 'answered' })).allowed).toBe(true);
      const shortMs = await short;
      expect(shortMs).toBeGreaterThanOrEqual(195);
      expect(shortMs).toBeLessThan(1_000);
      expect(await long).toBeGreaterThanOrEqual(1_495);
    } finally {
      client.close();
      server.close();
    }
  });

  it('closes a stream with nothing in flight for IDLE_STREAM_MS, and opens another for the next check', async () => {
    const { counts, handler } = allowingStreams();
    const server = await fakeServer({ checkLimitStream: handler });
    const client = createClient({ address: server.address });
    try {
      await client.checkLimit({ policy: 'ai', userId: 'idle' });
      await client.checkLimit({ policy: 'ai', userId: 'idle' });
      expect(counts).toEqual({ opened: 1, halfClosed: 0, cancelled: 0 });
      // Cancelled, not half-closed: nothing was left to answer.
      await eventually('the idle stream closed', () => counts.cancelled === 1, IDLE_STREAM_MS + 2_000);
      expect((await client.checkLimit({ policy: 'ai', userId: 'idle' })).allowed).toBe(true);
      expect(counts.opened).toBe(2);
    } finally {
      client.close();
      server.close();
    }
  });

  it('replaces a stream older than its maximum age at the next check, answering what the old one holds', async () => {
    const { counts, handler } = allowingStreams(50, 100);
    const server = await fakeServer({ checkLimitStream: handler });
    const channel = new Client(server.address, credentials.createInsecure());
    const stream = new CheckStream(channel, server.address, 100);
    try {
      const first = checked(stream, { policy: 'ai', userId: 'age' });
      await new Promise((r) => setTimeout(r, 150));
      // The first stream is past its age with its check still unanswered: replaced, not cut.
      const second = checked(stream, { policy: 'ai', userId: 'age' });
      expect((await first).allowed).toBe(true);
      expect((await second).allowed).toBe(true);
      expect(counts).toEqual({ opened: 2, halfClosed: 1, cancelled: 0 });
    } finally {
      stream.close();
      channel.close();
      server.close();
    }
  });

  it('lets a script that checks once and never closes its client end', async () => {
    // A server that never ends a stream itself.
    const server = await fakeServer({ checkLimitStream: (call: StreamCall) => call.on('data', (m: CheckLimitStreamRequest) => call.write(allowAll(m))) });
    try {
      const script = `import { createClient } from '@floodgate/client'; const c = createClient({ address: '${server.address}' }); console.log((await c.checkLimit({ policy: 'ai', userId: 'script' })).allowed);`;
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      const code = await new Promise<number | null>((resolve) => {
        const timer = setTimeout(() => child.kill(), 10_000);
        child.on('exit', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      expect(out.trim()).toBe('true');
      expect(code).toBe(0);
    } finally {
      server.close();
    }
  }, 15_000);

  it('sends the check after one refused as invalid, and nothing of the refused one', async () => {
    const received: CheckLimitStreamRequest[] = [];
    const server = await fakeServer({
      checkLimitStream: (call: StreamCall) =>
        call.on('data', (m: CheckLimitStreamRequest) => {
          received.push(m);
          call.write(allowAll(m));
        }),
    });
    const client = createClient({ address: server.address, deadlineMs: 2_000 });
    try {
      await expect(client.checkLimit({ policy: 'ai', userId: 'bad', cost: -1 })).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
      expect(await client.checkLimit({ policy: 'ai', userId: 'good' })).toMatchObject({ allowed: true });
      expect(received.flatMap((m) => m.checks.map((c) => c.check?.userId))).toEqual(['good']);
    } finally {
      client.close();
      server.close();
    }
  });

  it('sends more checks made in one turn than a message may hold as several messages within the limit, and answers each', async () => {
    const sizes: number[] = [];
    const ids = new Set<number>();
    const server = await fakeServer({
      checkLimitStream: (call: StreamCall) =>
        call.on('data', (m: CheckLimitStreamRequest) => {
          sizes.push(m.checks.length);
          for (const c of m.checks) ids.add(c.id);
          call.write(allowAll(m));
        }),
    });
    const client = createClient({ address: server.address, deadlineMs: 5_000 });
    try {
      const decisions = await Promise.all(Array.from({ length: 2_500 }, (_, i) => client.checkLimit({ policy: 'ai', userId: `many-${i}` })));
      expect(decisions.every((d) => d.allowed && !d.unavailable)).toBe(true);
      expect(sizes).toEqual([1_000, 1_000, 500]);
      expect(ids.size).toBe(2_500);
    } finally {
      client.close();
      server.close();
    }
  });

  it('falls back to CheckLimit calls against a server without CheckLimitStream', async () => {
    let calls = 0;
    const server = await fakeServer({
      checkLimit: (_call: unknown, cb: (err: null, res: object) => void) => {
        calls++;
        cb(null, ALLOW);
      },
    });
    const client = createClient({ address: server.address, deadlineMs: 2_000 });
    try {
      for (let i = 0; i < 3; i++) expect(await client.checkLimit({ policy: 'ai', userId: 'old-server' })).toMatchObject({ allowed: true, unavailable: false });
      expect(calls).toBe(3);
    } finally {
      client.close();
      server.close();
    }
  });

  it('answers by onUnavailable while the server is gone and decides again over a new stream once it is back', async () => {
    const redis = await RedisServer.start();
    let server = await ServerProcess.start({ REDIS_URL: redis.url });
    const port = String(server.grpcPort);
    const client = createClient({ address: server.address, deadlineMs: 1_000, onUnavailable: 'allow', onUnavailableEvent: () => {} });
    try {
      expect(await client.checkLimit({ policy: 'ai', userId: 'restart' })).toMatchObject({ unavailable: false });
      await server.stop('SIGKILL');
      const meanwhile = await client.checkLimit({ policy: 'ai', userId: 'restart' });
      expect(meanwhile).toMatchObject({ allowed: true, unavailable: true });
      expect(meanwhile.error).toBeInstanceOf(FloodgateError);
      server = await ServerProcess.start({ REDIS_URL: redis.url, GRPC_PORT: port });
      await eventually('decided again', async () => !(await client.checkLimit({ policy: 'ai', userId: 'restart' })).unavailable, 10_000);
      // The first check and the last one were counted by the same Redis.
      const last = await client.checkLimit({ policy: 'ai', userId: 'restart' });
      expect(last.unavailable).toBe(false);
      expect(last.remaining).toBeLessThan(19);
    } finally {
      client.close();
      await server.stop('SIGKILL');
      await redis.stop();
    }
  }, 30_000);

  it("logs a failed check under the caller's request id", async () => {
    const server = await ServerProcess.start({ LOG_LEVEL: 'debug' });
    const client = createClient({ address: server.address, deadlineMs: 2_000 });
    try {
      await expect(client.checkLimit({ policy: 'nope', userId: 'u' }, { requestId: 'stream-req-42' })).rejects.toMatchObject({ code: status.NOT_FOUND });
      await eventually('the log line', () => server.logs.some((l) => l.includes('"requestId":"stream-req-42"') && l.includes('check failed')));
    } finally {
      client.close();
      await server.stop();
    }
  });
});
