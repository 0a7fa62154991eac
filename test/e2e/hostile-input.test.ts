import { loadSync, type PackageDefinition } from '@grpc/proto-loader';
import { Client, credentials, Metadata, status, type ServiceError } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { PROTO_DIR } from '../../server/src/grpc/server.js';
import { healthStatus } from '../support/probes.js';
import { messageArbitrary } from '../support/proto-arbitrary.js';
import { ServerProcess } from '../support/server-process.js';
import { uniquePrefix } from '../support/stack.js';

const PROTO_FILES = ['floodgate/v1/ratelimit.proto', 'floodgate/v1/tracking.proto', 'floodgate/v1/admin.proto'];
const SERVICES = ['floodgate.v1.RateLimitService', 'floodgate.v1.TrackingService', 'floodgate.v1.AdminService'];
/** Codes that mean the server lost control of a call. */
const BROKEN = new Set([status.UNKNOWN, status.INTERNAL, status.DEADLINE_EXCEEDED, status.UNAVAILABLE, status.DATA_LOSS]);

interface Method {
  path: string;
  requestStream: boolean;
  requestSerialize(v: unknown): Buffer;
  requestType: { type: { name: string } };
}

const def: PackageDefinition = loadSync(PROTO_FILES, { includeDirs: [PROTO_DIR], keepCase: true, longs: String, enums: String, defaults: true });
const PLAUSIBLE = {
  policy: ['ai', 'general', 'tts'],
  user_id: ['alice', 'bob', 'ü-user'],
  ip: ['203.0.113.7', '2001:db8::1', '::ffff:198.51.100.2'],
  cost: [1, 2, 20],
  activity: ['ai', 'login'],
  page_size: [0, 10, 500],
  page_token: [''],
  duration_ms: ['0', '60000'],
  reason: ['abuse'],
  at_ms: ['0'],
};
const methods: Method[] = SERVICES.flatMap((s) => Object.values(def[s] as unknown as Record<string, Method>));

describe('hostile input at every RPC of a real process', () => {
  let server: ServerProcess;
  let channel: Client;
  beforeAll(async () => {
    server = await ServerProcess.start({ REDIS_URL: inject('redisUrl'), REDIS_KEY_PREFIX: uniquePrefix(), ADMIN_TOKENS: 'fuzz' });
    channel = new Client(server.address, credentials.createInsecure());
  });
  afterAll(async () => {
    channel?.close();
    await server?.stop();
  });

  /**
   * Sends one request (on a stream of its own to a streaming method, which is then half-closed);
   * resolves with the gRPC status code it got (OK included).
   */
  function send(method: Method, payload: Buffer, authorized: boolean): Promise<{ code: number; details: string }> {
    const md = new Metadata();
    if (authorized) md.set('authorization', 'Bearer fuzz');
    if (method.requestStream) {
      return new Promise((resolve) => {
        const call = channel.makeBidiStreamRequest(method.path, (b: Buffer) => b, (b: Buffer) => b, md, { deadline: Date.now() + 10_000 });
        call.on('data', () => {});
        call.on('error', () => {});
        call.on('status', ({ code, details }) => resolve({ code, details }));
        call.write(payload);
        call.end();
      });
    }
    return new Promise((resolve) =>
      channel.makeUnaryRequest(
        method.path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        payload,
        md,
        { deadline: Date.now() + 10_000 },
        (err: ServiceError | null) => resolve(err ? { code: err.code, details: err.details } : { code: status.OK, details: '' }),
      ),
    );
  }

  it.each(methods.map((m) => [m.path, m] as const))('%s answers every random request with a proper status', async (_path, method) => {
    const requests = messageArbitrary(def, method.requestType.type.name, PLAUSIBLE);
    let answered = 0;
    await fc.assert(
      fc.asyncProperty(requests, fc.boolean(), async (req, authorized) => {
        const { code, details } = await send(method, method.requestSerialize(req), authorized);
        expect(BROKEN.has(code), `${status[code]}: ${details}`).toBe(false);
        if (code === status.OK) answered++;
        if (code === status.INVALID_ARGUMENT) expect(details).toMatch(/^[a-z_.[\]0-9]+[ :]/);
      }),
      { numRuns: 60 },
    );
    expect(server.proc.exitCode).toBeNull();
    // Half the calls carry the admin token: some requests of every RPC must get past validation.
    expect(answered).toBeGreaterThan(0);
  });

  it('answers random bytes (not a valid message) at every RPC without losing control', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...methods), fc.uint8Array({ maxLength: 512 }), async (method, bytes) => {
        const { code, details } = await send(method, Buffer.from(bytes), false);
        expect(BROKEN.has(code), `${status[code]}: ${details}`).toBe(false);
      }),
      { numRuns: 150 },
    );
  });

  it('refuses a user_id that is not valid UTF-8, naming it, rather than folding it into U+FFFD', async () => {
    const checkLimit = methods.find((m) => m.path.endsWith('/CheckLimit'))!;
    const userId = (bytes: number[]) => Buffer.from([0x12, bytes.length, ...bytes]); // field 2, length-delimited
    const request = (bytes: number[]) => Buffer.concat([checkLimit.requestSerialize({ policy: 'ai' }), userId(bytes)]);
    // 0xff and a lone 0xc3 are not UTF-8; both would decode to the same U+FFFD-bearing id.
    for (const bytes of [[0x61, 0xff], [0x61, 0xc3]]) {
      expect(await send(checkLimit, request(bytes), false)).toEqual({ code: status.INVALID_ARGUMENT, details: expect.stringMatching(/^user_id: must be valid UTF-8/) });
    }
    expect((await send(checkLimit, request([0x61, 0xc3, 0xa4]), false)).code).toBe(status.OK);
  });

  it('is still alive, healthy and logged no unexpected failure afterwards', async () => {
    expect(server.proc.exitCode).toBeNull();
    expect(await healthStatus(server.address)).toBe('SERVING');
    expect(server.logs.filter((l) => /unexpectedly|"level":(50|60)/.test(l))).toEqual([]);
  });
});
