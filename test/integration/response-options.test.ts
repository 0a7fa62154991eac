import type { ServerHttp2Stream, ServerStreamResponseOptions } from 'node:http2';
import { Client, credentials, status, type Metadata } from '@grpc/grpc-js';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/src/config/env.js';
import { grpcHttp2Servers } from '../../server/src/grpc/http2-servers.js';
import { grpcStack } from '../support/stack.js';

const redisUrl = inject('redisUrl');
type Respond = ServerHttp2Stream['respond'];
type Stack = Awaited<ReturnType<typeof grpcStack>>;

/** A unary health check, one stream each: `service` unknown to the server gets NOT_FOUND. */
async function healthCheck(stack: Stack, service = ''): Promise<number> {
  return (await healthCheckWithHeaders(stack, service)).code;
}

/** A health check's status and the values of its response's `date` header. */
async function healthCheckWithHeaders(stack: Stack, service = ''): Promise<{ code: number; date: unknown[] }> {
  const client = new Client(stack.address, credentials.createInsecure());
  const request = service ? Buffer.concat([Buffer.from([0x0a, service.length]), Buffer.from(service)]) : Buffer.alloc(0);
  let date: unknown[] = [];
  try {
    const code = await new Promise<number>((resolve) => {
      const call = client.makeUnaryRequest('/grpc.health.v1.Health/Check', (b: Buffer) => b, (b: Buffer) => b, request, (err) => resolve(err?.code ?? status.OK));
      call.on('metadata', (headers: Metadata) => (date = headers.get('date')));
    });
    return { code, date };
  } finally {
    client.close();
  }
}

/**
 * Records the options of every response with trailers that a server stream sends, from the next
 * stream `server` accepts on (the spy sits on the prototype all server streams share).
 */
function spyOnResponses(stack: Stack): { seen: ServerStreamResponseOptions[]; restore: () => void } {
  const seen: ServerStreamResponseOptions[] = [];
  let restore = (): void => {};
  grpcHttp2Servers(stack.grpc.server)![0]!.once('stream', (stream: ServerHttp2Stream) => {
    const proto = Object.getPrototypeOf(stream) as { respond: Respond };
    const original = proto.respond;
    proto.respond = function (this: ServerHttp2Stream, headers, options) {
      if (options?.waitForTrailers) seen.push(options);
      original.call(this, headers, options);
    };
    restore = () => {
      proto.respond = original;
    };
  });
  return { seen, restore: () => restore() };
}

describe("grpc-js's shared response options", () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const step of cleanup.splice(0).reverse()) await step();
  });

  it('get endStream and sendDate: false once two responses show they are one shared object, not from trailers-only responses', async () => {
    const plain = await grpcStack('memory', redisUrl, { completeResponseOptions: false });
    cleanup.push(plain.close);
    expect(plain.grpc.responseOptions.state).toBe('unavailable');
    const spy = spyOnResponses(plain);
    cleanup.push(spy.restore);
    // Node adds a Date header to every response whose options do not say otherwise.
    expect(await healthCheckWithHeaders(plain)).toMatchObject({ code: status.OK, date: [expect.stringMatching(/ GMT$/)] });
    expect(await healthCheck(plain)).toBe(status.OK);
    expect(spy.seen).toHaveLength(2);
    const shared = spy.seen[0]!;
    expect(spy.seen[1]).toBe(shared);
    // Another server in this process may have completed it already: start from grpc-js's own shape.
    delete shared.endStream;
    delete shared.sendDate;
    expect(Object.keys(shared)).toEqual(['waitForTrailers']);
    const plainListeners = grpcHttp2Servers(plain.grpc.server)![0]!.listenerCount('stream');

    const stack = await grpcStack('memory', redisUrl);
    cleanup.push(stack.close);
    const http2Server = grpcHttp2Servers(stack.grpc.server)![0]!;
    expect(stack.grpc.responseOptions.state).toBe('watching');
    expect(http2Server.listenerCount('stream')).toBe(plainListeners + 1);

    // A status without a message goes in one HEADERS frame, with options of grpc-js's making.
    expect(await healthCheck(stack, 'no-such-service')).toBe(status.NOT_FOUND);
    expect(stack.grpc.responseOptions.state).toBe('watching');
    expect('endStream' in shared).toBe(false);

    expect(await healthCheck(stack)).toBe(status.OK);
    expect(stack.grpc.responseOptions.state).toBe('verifying');
    expect(shared.endStream).toBe(false);
    expect(shared.sendDate).toBe(false);
    expect(await healthCheck(stack)).toBe(status.OK);
    expect(stack.grpc.responseOptions.state).toBe('completed');
    expect(http2Server.listenerCount('stream')).toBe(plainListeners);

    // Later responses pass the same object, and streams no longer get a respond of their own.
    const before = spy.seen.length;
    const ownRespond: boolean[] = [];
    http2Server.on('stream', (stream: ServerHttp2Stream) => ownRespond.push(Object.hasOwn(stream, 'respond')));
    const codes = await Promise.all(Array.from({ length: 20 }, () => healthCheck(stack)));
    expect(codes.every((code) => code === status.OK)).toBe(true);
    expect((await stack.client.checkLimit({ policy: 'general', userId: 'u' })).allowed).toBe(true);
    expect(spy.seen.length - before).toBeGreaterThanOrEqual(20);
    expect(spy.seen.slice(before).every((options) => options === shared)).toBe(true);
    expect(shared).toEqual({ waitForTrailers: true, endStream: false, sendDate: false });
    // As from grpc-go's and gRPC C-core's servers: no Date header (nor a cost for one) on gRPC responses.
    expect(await healthCheckWithHeaders(stack)).toEqual({ code: status.OK, date: [] });
    expect(ownRespond.length).toBeGreaterThan(0);
    expect(ownRespond.every((own) => !own)).toBe(true);
  });

  it('are left alone with HTTP2_COMPLETE_RESPONSE_OPTIONS=false', () => {
    expect(loadConfig({}).http2CompleteResponseOptions).toBe(true);
    expect(loadConfig({ HTTP2_COMPLETE_RESPONSE_OPTIONS: 'false' }).http2CompleteResponseOptions).toBe(false);
    expect(() => loadConfig({ HTTP2_COMPLETE_RESPONSE_OPTIONS: 'maybe' })).toThrow(ConfigError);
    expect(() => loadConfig({ HTTP2_COMPLETE_RESPONSE_OPTIONS: 'maybe' })).toThrow(/HTTP2_COMPLETE_RESPONSE_OPTIONS/);
  });
});
