import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { healthCheckBody, healthServingReply, grpcUnframe } from '../../bench/grpc-body.js';
import { postGrpc } from '../../bench/grpc-post.js';
import { StaticHttp2Server } from '../../bench/static-http2-server.js';

/** The bench's machine floor: nghttpd answers the h2load body over real HTTP/2, as the bench posts it. */
describe('bench machine floor (nghttpd)', () => {
  let floor: StaticHttp2Server;
  beforeAll(async () => {
    floor = await StaticHttp2Server.start({ '/grpc.health.v1.Health/Check': healthServingReply() });
  });
  afterAll(() => floor?.stop());

  it('answers the health check body with HTTP 200 and the static SERVING reply', async () => {
    const reply = await postGrpc(floor.address, '/grpc.health.v1.Health/Check', healthCheckBody());
    expect(reply.httpStatus).toBe(200);
    expect([...reply.message]).toEqual([...grpcUnframe(healthServingReply())]);
  });
});
