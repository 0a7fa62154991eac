import {
  AdminServiceService,
  createClient,
  FloodgateError,
  RateLimitServiceService,
  TrackingServiceService,
  type CheckLimitStreamRequest,
  type CheckLimitStreamResponse,
  type FloodgateClient,
} from '@floodgate/client';
import { status, type ServerDuplexStream, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { answerAll, fakeGrpcServer } from '../support/fake-grpc.js';

const TOKEN = 's3cret';
const seen: Array<{ method: string; authorization: string | undefined }> = [];

/**
 * A real gRPC server for all three services that records each call and its authorization
 * header, answers admin calls only with the token, and otherwise replies with the empty message
 * (each message of a stream with an empty answer under its id).
 */
function recording(def: Record<string, { requestStream: boolean; responseDeserialize(b: Buffer): unknown }>, admin: boolean): UntypedServiceImplementation {
  return Object.fromEntries(
    Object.entries(def).map(([method, m]) => [
      method,
      m.requestStream
        ? (call: ServerDuplexStream<CheckLimitStreamRequest, CheckLimitStreamResponse>) => {
            seen.push({ method, authorization: call.metadata.get('authorization')[0] as string | undefined });
            call.on('data', (req: CheckLimitStreamRequest) => call.write(answerAll(req, {})));
            call.on('end', () => call.end());
          }
        : (call: { metadata: { get(k: string): unknown[] } }, cb: (err: object | null, res?: unknown) => void) => {
            const authorization = call.metadata.get('authorization')[0] as string | undefined;
            seen.push({ method, authorization });
            if (admin && authorization !== `Bearer ${TOKEN}`) return cb({ code: status.UNAUTHENTICATED, details: 'authorization: admin token required' });
            cb(null, m.responseDeserialize(Buffer.alloc(0)));
          },
    ]),
  );
}

let server: Awaited<ReturnType<typeof fakeGrpcServer>>;
let address: string;

beforeAll(async () => {
  server = await fakeGrpcServer([
    [RateLimitServiceService, recording(RateLimitServiceService, false)],
    [TrackingServiceService, recording(TrackingServiceService, false)],
    [AdminServiceService, recording(AdminServiceService, true)],
  ]);
  address = server.address;
});
afterAll(() => server.close());
beforeEach(() => {
  seen.length = 0;
});

type Method = (req?: object) => Promise<unknown>;
const methodsOf = (o: object) => o as Record<string, Method>;

describe('createClient', () => {
  it('has a promise method for every unary RPC of every service, admin ones under client.admin; checkLimit goes over CheckLimitStream', async () => {
    const client = createClient({ address, token: TOKEN, deadlineMs: 5_000 });
    try {
      const surfaces: Array<[object, object]> = [
        [RateLimitServiceService, client],
        [TrackingServiceService, client],
        [AdminServiceService, client.admin],
      ];
      const unaryMethods = (def: object) => Object.entries(def).flatMap(([name, m]) => ((m as { requestStream: boolean }).requestStream ? [] : [name]));
      for (const [def, surface] of surfaces) {
        for (const method of unaryMethods(def)) {
          expect(typeof methodsOf(surface)[method], method).toBe('function');
          await methodsOf(surface)[method]!({});
        }
      }
      const all = [RateLimitServiceService, TrackingServiceService, AdminServiceService].flatMap(unaryMethods);
      expect(seen.map((s) => s.method)).toEqual(all.map((m) => (m === 'checkLimit' ? 'checkLimitStream' : m)));

      seen.length = 0;
      const unaryClient = createClient({ address, deadlineMs: 5_000, checkTransport: 'unary' });
      await unaryClient.checkLimit({} as never); // no policy: answered INVALID_ARGUMENT, still a call
      unaryClient.close();
      expect(seen.map((s) => s.method)).toEqual(['checkLimit']);
    } finally {
      client.close();
    }
  });

  it('sends the token on admin calls only', async () => {
    const client = createClient({ address, token: TOKEN, deadlineMs: 5_000 });
    try {
      await client.admin.getStoreStatus();
      await client.getLimitStatus({ userId: 'u' });
      await client.recordActivity({ userId: 'u', activity: 'a' });
      expect(seen).toEqual([
        { method: 'getStoreStatus', authorization: `Bearer ${TOKEN}` },
        { method: 'getLimitStatus', authorization: undefined },
        { method: 'recordActivity', authorization: undefined },
      ]);
    } finally {
      client.close();
    }
  });

  it('rejects admin calls without the token as UNAUTHENTICATED (HTTP 401)', async () => {
    const client: FloodgateClient = createClient({ address, deadlineMs: 5_000 });
    try {
      const err = await client.admin.listUsers().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(FloodgateError);
      expect(err).toMatchObject({ code: status.UNAUTHENTICATED, httpStatus: 401, message: 'authorization: admin token required' });
    } finally {
      client.close();
    }
  });

  it.each(['stream', 'unary'] as const)('rejects a check with a cost the server would refuse as INVALID_ARGUMENT naming cost, without an RPC (checks by %s)', async (checkTransport) => {
    const client = createClient({ address, deadlineMs: 5_000, onUnavailable: 'allow', checkTransport, denyCache: true });
    try {
      for (const cost of [-1, 0, 1.5, 2 ** 32, 2 ** 40, Number.NaN, Infinity, '3' as never]) {
        const err = await client.checkLimit({ policy: 'ai', userId: 'u', cost }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(FloodgateError);
        expect(err).toMatchObject({
          code: status.INVALID_ARGUMENT,
          httpStatus: 400,
          field: 'cost',
          message: expect.stringMatching(/^cost: must be a whole number from 1 to 4294967295 \(leave it unset for 1\), got /),
        });
      }
      expect(seen).toEqual([]);
    } finally {
      client.close();
    }
  });

  it.each(['stream', 'unary'] as const)('rejects a request that is not an object as INVALID_ARGUMENT, without an RPC (checks by %s)', async (checkTransport) => {
    const client = createClient({ address, deadlineMs: 5_000, onUnavailable: 'allow', checkTransport, denyCache: true });
    try {
      for (const req of [null, 'alice', 5, []] as never[]) {
        await expect(client.checkLimit(req)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, message: 'request: must be an object' });
        await expect(client.getLimitStatus(req)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, message: 'request: must be an object' });
      }
      expect(seen).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('names the batch item and the field of a bad check in checkLimits as that item\'s error, without an RPC', async () => {
    const client = createClient({ address, deadlineMs: 5_000 });
    try {
      await expect(client.checkLimits(null as never)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, message: 'request: must be an object' });
      await expect(client.checkLimits({ checks: 'x' as never })).rejects.toMatchObject({ message: 'checks: must be an array' });
      // Every item refused: nothing left to send.
      const { results } = await client.checkLimits({ checks: [{ policy: 'ai', userId: 'u', cost: -1 }, null as never] });
      expect(results).toEqual([
        { response: undefined, error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^checks\[0\]\.cost: must be a whole number from 1 to 4294967295/) } },
        { response: undefined, error: { code: 'INVALID_ARGUMENT', message: 'checks[1]: must be an object' } },
      ]);
      expect(seen).toEqual([]);
    } finally {
      client.close();
    }
  });

  it.each([
    // By the proto's names, as the server names them.
    ['setSuspension', { userId: 'u', suspended: true, durationMs: -1 }, 'duration_ms', 'must be a whole number from 0 to 9007199254740991'],
    ['listUsers', { pageSize: 1.5 }, 'page_size', 'must be a whole number from 0 to 4294967295'],
  ])('rejects admin.%s with a bad number as INVALID_ARGUMENT naming %s, without an RPC', async (method, req, field, problem) => {
    const client = createClient({ address, deadlineMs: 5_000, token: TOKEN });
    try {
      await expect(methodsOf(client.admin)[method]!(req)).rejects.toMatchObject({ code: status.INVALID_ARGUMENT, field, message: expect.stringMatching(new RegExp(`^${field}: ${problem}, got `)) });
      expect(seen).toEqual([]);
    } finally {
      client.close();
    }
  });

  it('rejects recordActivity with a fractional atMs naming it at_ms', async () => {
    const client = createClient({ address, deadlineMs: 5_000 });
    try {
      await expect(client.recordActivity({ userId: 'u', activity: 'a', atMs: 1.5 })).rejects.toMatchObject({ field: 'at_ms', message: expect.stringMatching(/^at_ms: must be a whole number/) });
      expect(seen).toEqual([]);
      await client.recordActivity({ userId: 'u', activity: 'a', atMs: Date.now() });
      expect(seen.map((c) => c.method)).toEqual(['recordActivity']);
    } finally {
      client.close();
    }
  });
});
