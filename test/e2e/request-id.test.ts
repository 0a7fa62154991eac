import { createClient, FloodgateError, status, type FloodgateClient } from '@floodgate/client';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { eventually } from '../support/eventually.js';
import { http } from '../support/http.js';
import { ServerProcess } from '../support/server-process.js';
import { uniquePrefix } from '../support/stack.js';

const TOKEN = 'request-id-token';

/** The parsed JSON log lines of a process. */
const logLines = (server: ServerProcess): Array<Record<string, unknown>> =>
  server.logs.flatMap((l) => {
    try {
      return [JSON.parse(l) as Record<string, unknown>];
    } catch {
      return [];
    }
  });

describe('one request id from the HTTP gateway through the SDK to the gRPC server', () => {
  let server: ServerProcess;
  let client: FloodgateClient;
  beforeAll(async () => {
    // debug: the gRPC server logs each failed call ("call failed") with its request id.
    server = await ServerProcess.start({ REDIS_URL: inject('redisUrl'), REDIS_KEY_PREFIX: uniquePrefix(), ADMIN_TOKENS: TOKEN, LOG_LEVEL: 'debug' });
    client = createClient({ address: server.address, token: TOKEN, deadlineMs: 5_000 });
  });
  afterAll(async () => {
    client?.close();
    await server?.stop();
  });

  /** The gRPC server's "call failed" line of one request id, once the gateway's line of it is there too. */
  async function grpcLineOf(requestId: string): Promise<Record<string, unknown>> {
    const lines = () => logLines(server).filter((l) => l.requestId === requestId);
    const grpc = () => lines().find((l) => l.method !== undefined && l.msg === 'call failed');
    const gateway = () => lines().find((l) => l.component === 'gateway' && l.msg === 'request failed');
    await eventually(`gateway and gRPC log lines with request id ${requestId}`, () => grpc() !== undefined && gateway() !== undefined);
    return grpc()!;
  }

  /** A request only the gRPC server refuses (the gateway cannot know the policies): NOT_FOUND. */
  const unknownPolicy = (headers: Record<string, string> = {}) =>
    http(`${server.httpUrl}/api/admin/users/alice/reset-rate-limits`, { token: TOKEN, body: { policy: 'no-such-policy' }, headers });

  it("logs the caller's x-request-id in the gateway's and the gRPC server's line of the call", async () => {
    const res = await unknownPolicy({ 'x-request-id': 'trace-me-42' });
    expect(res.status).toBe(404);
    expect(res.json.error.requestId).toBe('trace-me-42');
    expect(await grpcLineOf('trace-me-42')).toMatchObject({ method: 'ResetRateLimits', code: 'NOT_FOUND' });
  });

  it('passes on the id the gateway made up when the caller sent none, or one it does not keep', async () => {
    for (const headers of [{}, { 'x-request-id': 'has space' }]) {
      const res = await unknownPolicy(headers);
      const requestId = res.headers.get('x-request-id')!;
      expect(requestId).toMatch(/^[\w.:-]{8,}$/);
      expect(res.json.error.requestId).toBe(requestId);
      expect(await grpcLineOf(requestId)).toMatchObject({ method: 'ResetRateLimits' });
    }
  });

  it('sends a per-call requestId from the SDK, and refuses a bad one or a bad deadline naming the option', async () => {
    await expect(client.admin.resetRateLimits({ userId: 'alice', policy: 'no-such-policy' }, { requestId: 'sdk-call-7' })).rejects.toMatchObject({
      code: status.NOT_FOUND,
    });
    const sdkLine = () => logLines(server).find((l) => l.requestId === 'sdk-call-7' && l.msg === 'call failed');
    await eventually('the gRPC line of sdk-call-7', () => sdkLine() !== undefined);
    expect(sdkLine()).toMatchObject({ method: 'ResetRateLimits', code: 'NOT_FOUND' });

    for (const requestId of ['', 'has space', 'x'.repeat(129), 'ü']) {
      const err = await client.getLimitStatus({ userId: 'alice' }, { requestId }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FloodgateError);
      expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, message: expect.stringMatching(/^requestId:/) });
    }
    for (const deadlineMs of [0, -1, Number.NaN]) {
      const err = await client.checkLimit({ policy: 'ai', userId: 'alice' }, { deadlineMs }).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, message: expect.stringMatching(/^deadlineMs:/) });
    }
    // A valid per-call deadline and id: the call is answered.
    expect((await client.checkLimit({ policy: 'ai', userId: 'alice' }, { deadlineMs: 3_000, requestId: 'ok-1' })).allowed).toBe(true);
  });
});
