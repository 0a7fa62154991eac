import { CheckLimitResponse, CheckLimitsResponse, Reason } from '@floodgate/client';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkLimitBody, checkLimitsBody, healthCheckBody } from '../../bench/grpc-body.js';
import { postGrpc } from '../../bench/grpc-post.js';
import { ServerProcess } from '../support/server-process.js';

/** The bench posts these bodies with h2load; here the same bytes go over real HTTP/2 to a real server. */
describe('bench request bodies', () => {
  let server: ServerProcess;
  beforeAll(async () => {
    server = await ServerProcess.start({ REDIS_URL: inject('redisUrl'), REDIS_KEY_PREFIX: `bench${randomUUID().slice(0, 8)}:` });
  });
  afterAll(async () => {
    await server.stop();
  });

  it('the health check body is a valid no-op call', async () => {
    const reply = await postGrpc(server.address, '/grpc.health.v1.Health/Check', healthCheckBody());
    expect(reply).toMatchObject({ httpStatus: 200, grpcStatus: 0 });
  });

  it('the CheckLimit body is decided by the limiter', async () => {
    const body = checkLimitBody({ policy: 'ai', userId: 'bench-smoke', ip: '10.1.2.3' });
    const reply = await postGrpc(server.address, '/floodgate.v1.RateLimitService/CheckLimit', body);
    expect(reply).toMatchObject({ httpStatus: 200, grpcStatus: 0 });
    const res = CheckLimitResponse.decode(reply.message);
    expect(res).toMatchObject({ allowed: true, reason: Reason.REASON_OK });
    expect(res.statuses.map((s) => s.remaining)).toEqual([19, 19]);
  });

  it('the CheckLimits body holds one decided check per user', async () => {
    const reply = await postGrpc(server.address, '/floodgate.v1.RateLimitService/CheckLimits', checkLimitsBody(5, 'tts', 'bench-smoke-'));
    expect(reply.grpcStatus).toBe(0);
    const { results } = CheckLimitsResponse.decode(reply.message);
    expect(results.map((r) => r.response?.allowed)).toEqual([true, true, true, true, true]);
  });

  it('reports a gRPC error that h2load would count as HTTP 200', async () => {
    const reply = await postGrpc(server.address, '/floodgate.v1.RateLimitService/CheckLimit', checkLimitBody({ userId: 'x' }));
    expect(reply.httpStatus).toBe(200);
    expect(reply.grpcStatus).toBe(3);
    expect(reply.grpcMessage).toMatch(/^policy/);
  });
});
