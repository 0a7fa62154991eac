import { CheckLimitStreamRequest, RateLimitServiceService, Reason, type CheckLimitStreamResponse, type DeepPartial, type StreamedCheck, type StreamedDecision } from '@floodgate/client';
import { Client, credentials, Metadata, status, type ClientDuplexStream, type StatusObject } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { grpcStack } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const METHOD = RateLimitServiceService.checkLimitStream;

/** A CheckLimitStream opened by hand: what was answered, and the status it ended with. */
class RawStream {
  readonly answers: StreamedDecision[] = [];
  /** How many messages the answers came in. */
  messages = 0;
  readonly ended: Promise<StatusObject>;
  readonly call: ClientDuplexStream<Buffer, CheckLimitStreamResponse>;

  constructor(client: Client, paused = false) {
    this.call = client.makeBidiStreamRequest(METHOD.path, (b: Buffer) => b, METHOD.responseDeserialize, new Metadata());
    this.call.on('error', () => {});
    this.ended = new Promise((resolve) => this.call.on('status', resolve));
    if (paused) this.call.pause();
    this.call.on('data', (m: CheckLimitStreamResponse) => {
      this.messages++;
      this.answers.push(...m.decisions);
    });
  }

  /** One message holding these checks. */
  sendAll(checks: Array<DeepPartial<StreamedCheck>>): boolean {
    return this.call.write(Buffer.from(CheckLimitStreamRequest.encode(CheckLimitStreamRequest.fromPartial({ checks })).finish()));
  }

  send(check: DeepPartial<StreamedCheck>): boolean {
    return this.sendAll([check]);
  }

  answer(id: number): StreamedDecision | undefined {
    return this.answers.find((a) => a.id === id);
  }
}

let stack: Awaited<ReturnType<typeof grpcStack>>;
let client: Client;

beforeAll(async () => {
  stack = await grpcStack('redis', redisUrl);
  client = new Client(stack.address, credentials.createInsecure());
});
afterAll(async () => {
  client.close();
  await stack.close();
});

describe('CheckLimitStream', () => {
  it('decides as CheckLimit does, exactly at the limit under concurrent checks, each answered under its id', async () => {
    const s = new RawStream(client);
    // "image" allows 15 per user: 60 concurrent checks of one user, 15 allowed.
    for (let id = 1; id <= 60; id++) s.send({ id, check: { policy: 'image', userId: 'stream-exact' } });
    await eventually('60 answers', () => s.answers.length === 60);
    expect(new Set(s.answers.map((a) => a.id)).size).toBe(60);
    expect(s.answers.filter((a) => a.response?.allowed)).toHaveLength(15);
    expect(s.answers.filter((a) => a.response?.reason === Reason.REASON_OVER_LIMIT)).toHaveLength(45);
    // The unary RPC sees the same key.
    expect((await stack.client.checkLimits({ checks: [{ policy: 'image', userId: 'stream-exact' }] })).results[0]!.response!.allowed).toBe(false);
    s.call.end();
    expect((await s.ended).code).toBe(status.OK);
  });

  it('takes many checks in one message and answers those decided together in one message', async () => {
    const s = new RawStream(client);
    s.sendAll(Array.from({ length: 200 }, (_, i) => ({ id: i + 1, check: { policy: 'general', userId: `stream-batch-${i % 20}` } })));
    await eventually('200 answers', () => s.answers.length === 200);
    expect(s.answers.every((a) => a.response?.allowed)).toBe(true);
    expect(s.messages).toBeLessThan(50);
    // Over the limit of a message: every check of it is answered with the error, naming the field.
    s.sendAll(Array.from({ length: 1_001 }, (_, i) => ({ id: 1_000 + i, check: { policy: 'general', userId: 'stream-batch-big' } })));
    await eventually('1,001 more answers', () => s.answers.length === 1_201);
    expect(s.answers.slice(200).every((a) => a.error?.code === 'INVALID_ARGUMENT' && a.error.message.startsWith('checks: holds 1001 checks'))).toBe(true);
    s.call.end();
    expect((await s.ended).code).toBe(status.OK);
  });

  it("answers a check's own error under its id, naming the field, and goes on", async () => {
    const s = new RawStream(client);
    s.send({ id: 1, check: { policy: 'nope', userId: 'u' } });
    s.send({ id: 2 });
    s.send({ id: 3, check: { policy: 'image', userId: 'stream-errors', cost: 16 } });
    s.send({ id: 4, check: { policy: 'image' } });
    s.send({ id: 5, check: { policy: 'image', userId: 'stream-errors' } });
    // The SDK refuses a cost of 0 before sending it; this is the server's own rule.
    s.send({ id: 6, check: { policy: 'image', userId: 'stream-errors', cost: 0 } });
    await eventually('6 answers', () => s.answers.length === 6);
    expect(s.answer(1)!.error).toEqual({ code: 'NOT_FOUND', message: 'policy: no policy named "nope"' });
    expect(s.answer(2)!.error).toEqual({ code: 'INVALID_ARGUMENT', message: 'check: is required' });
    expect(s.answer(3)!.error!.code).toBe('INVALID_ARGUMENT');
    expect(s.answer(3)!.error!.message).toMatch(/^cost: /);
    expect(s.answer(4)!.error!.message).toMatch(/user_id|ip/);
    expect(s.answer(5)!.response!.allowed).toBe(true);
    expect(s.answer(6)!.error).toEqual({ code: 'INVALID_ARGUMENT', message: 'cost: must be at least 1 (leave it unset for 1)' });
    s.call.end();
    expect((await s.ended).code).toBe(status.OK);
  });

  it('ends with INVALID_ARGUMENT naming the request when a message does not decode (its id is unknown)', async () => {
    const s = new RawStream(client);
    s.send({ id: 1, check: { policy: 'image', userId: 'stream-garbage' } });
    await eventually('the answer', () => s.answers.length === 1);
    s.call.write(Buffer.from([0x0a, 0xff, 0xff]));
    const ended = await s.ended;
    expect(ended.code).toBe(status.INVALID_ARGUMENT);
    expect(ended.details).toMatch(/^request: /);
  });

  it('answers the checks in flight after the client half-closes, then ends OK', async () => {
    const s = new RawStream(client);
    for (let id = 1; id <= 200; id++) s.send({ id, check: { policy: 'general', userId: `stream-half-close-${id % 7}` } });
    s.call.end();
    expect((await s.ended).code).toBe(status.OK);
    expect(s.answers).toHaveLength(200);
    expect(s.answers.every((a) => a.response?.allowed)).toBe(true);
  });

  it('holds a flooding client back at its bound instead of taking every check at once, and loses none', async () => {
    const bound = 64;
    const own = await grpcStack('redis', redisUrl, { maxPendingPerStream: bound });
    const raw = new Client(own.address, credentials.createInsecure());
    try {
      const s = new RawStream(raw);
      const total = 5_000;
      for (let id = 1; id <= total; id++) s.send({ id, check: { policy: 'general', userId: `stream-flood-${id % 10}`, dryRun: true } });
      s.call.end();
      expect((await s.ended).code).toBe(status.OK);
      expect(s.answers).toHaveLength(total);
      expect(new Set(s.answers.map((a) => a.id)).size).toBe(total);
      expect(s.answers.every((a) => a.response?.allowed)).toBe(true);
      // Pressed up to the bound, never far past it (what grpc-js had read before the pause).
      expect(own.grpc.checkStreams.peakPending).toBeGreaterThanOrEqual(bound);
      expect(own.grpc.checkStreams.peakPending).toBeLessThan(bound + 32);
    } finally {
      raw.close();
      await own.close();
    }
  });
});

describe('CheckLimitStream at shutdown', () => {
  it('answers what each stream holds, then ends it UNAVAILABLE, and refuses new streams', async () => {
    const own = await grpcStack('redis', redisUrl);
    const raw = new Client(own.address, credentials.createInsecure());
    try {
      const s = new RawStream(raw);
      for (let id = 1; id <= 100; id++) s.send({ id, check: { policy: 'general', userId: `stream-shutdown-${id % 5}` } });
      // Close while the server is deciding some of them.
      while (own.grpc.checkStreams.inFlight === 0) await new Promise((r) => setImmediate(r));
      const held = own.grpc.checkStreams.inFlight;
      own.grpc.checkStreams.close();
      const ended = await s.ended;
      expect(ended.code).toBe(status.UNAVAILABLE);
      // What the server held was decided; what arrived after the close was answered UNAVAILABLE.
      expect(s.answers.filter((a) => a.response?.allowed).length).toBeGreaterThanOrEqual(held);
      expect(s.answers.every((a) => a.response?.allowed || a.error?.code === 'UNAVAILABLE')).toBe(true);
      expect(own.grpc.checkStreams.size).toBe(0);

      const late = new RawStream(raw);
      late.send({ id: 1, check: { policy: 'general', userId: 'stream-late' } });
      expect((await late.ended).code).toBe(status.UNAVAILABLE);
    } finally {
      raw.close();
      await own.close();
    }
  });
});
