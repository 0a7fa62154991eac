import { createServer, type Server as NetServer, type Socket } from 'node:net';
import {
  createClient,
  FloodgateError,
  RateLimitServiceService,
  Reason,
  type CheckLimitStreamRequest,
  type CheckLimitStreamResponse,
  type CheckTransport,
  type UnavailableEvent,
} from '@floodgate/client';
import { status, type ServerDuplexStream } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answerAll, fakeGrpcServer } from '../support/fake-grpc.js';
import { freePort } from '../support/redis-server.js';
import { ServerProcess } from '../support/server-process.js';

const DEADLINE_MS = 400;
// Room for a loaded CI machine; the point is "about the deadline", not "forever".
const MARGIN_MS = 800;

/** Accepts TCP connections and never sends a byte: the HTTP/2 handshake never completes. */
async function silentTcpServer(): Promise<{ address: string; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: NetServer = createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    address: `127.0.0.1:${port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      return new Promise((r) => server.close(() => r()));
    },
  };
}

const ALLOW = { allowed: true, reason: Reason.REASON_OK, statuses: [], policy: 'ai' };

/** A real gRPC server whose handlers answer only while `answering.on` (an empty allow), on the check stream too. */
async function hangingGrpcServer(answering = { on: false }): Promise<{ address: string; close(): Promise<void> }> {
  const maybe = (_call: unknown, cb: (err: null, res: object) => void) => {
    if (answering.on) cb(null, ALLOW);
  };
  const checkLimitStream = (call: ServerDuplexStream<CheckLimitStreamRequest, CheckLimitStreamResponse>) => {
    call.on('data', (m: CheckLimitStreamRequest) => answering.on && call.write(answerAll(m, ALLOW)));
    call.on('end', () => call.end());
  };
  const server = await fakeGrpcServer([[RateLimitServiceService, { checkLimit: maybe, checkLimits: maybe, getLimitStatus: maybe, checkLimitStream }]]);
  return { address: server.address, close: async () => server.close() };
}

/** An address where a Floodgate process ran and was stopped: nothing listens there now. */
async function stoppedServerAddress(): Promise<string> {
  const server = await ServerProcess.start();
  const address = server.address;
  await server.stop();
  return address;
}

interface Target {
  address: string;
  close(): Promise<void>;
}

const targets: Record<string, Target> = {};

beforeAll(async () => {
  targets['a stopped Floodgate'] = { address: await stoppedServerAddress(), close: async () => {} };
  targets['a port nobody listens on'] = { address: `127.0.0.1:${await freePort()}`, close: async () => {} };
  targets['a TCP listener that never answers'] = await silentTcpServer();
  targets['a gRPC server whose handler never answers'] = await hangingGrpcServer();
});

afterAll(async () => {
  await Promise.all(Object.values(targets).map((t) => t.close()));
});

async function timed<T>(p: Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await p;
  return { value, ms: performance.now() - start };
}

const TARGETS = ['a stopped Floodgate', 'a port nobody listens on', 'a TCP listener that never answers', 'a gRPC server whose handler never answers'];
const TRANSPORTS: CheckTransport[] = ['stream', 'unary'];

describe.each(TARGETS.flatMap((name) => TRANSPORTS.map((checkTransport) => ({ name, checkTransport }))))('with $name, checks by $checkTransport', ({ name, checkTransport }) => {
  it.each(['allow', 'deny'] as const)('checkLimit settles within the deadline as onUnavailable=%s says, flagged and reported', async (mode) => {
    const events: UnavailableEvent[] = [];
    const client = createClient({ address: targets[name]!.address, deadlineMs: DEADLINE_MS, onUnavailable: mode, onUnavailableEvent: (e) => events.push(e), checkTransport });
    try {
      const { value: d, ms } = await timed(client.checkLimit({ policy: 'ai', userId: 'alice' }));
      expect(ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
      expect(d).toMatchObject({
        allowed: mode === 'allow',
        unavailable: true,
        degraded: true,
        cached: false,
        policy: 'ai',
        reason: mode === 'allow' ? Reason.REASON_DEGRADED_ALLOW : Reason.REASON_DEGRADED_DENY,
      });
      expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain(d.error?.code);
      expect(events).toHaveLength(1);
      expect(events[0]).toMatchObject({ method: 'CheckLimit', outcome: mode, address: targets[name]!.address });
      expect(events[0]!.error).toBeInstanceOf(FloodgateError);
    } finally {
      client.close();
    }
  });

  it('checkLimits answers every item by onUnavailable within the deadline', async () => {
    const client = createClient({ address: targets[name]!.address, deadlineMs: DEADLINE_MS, onUnavailable: 'deny', onUnavailableEvent: () => {}, checkTransport });
    try {
      const { value, ms } = await timed(client.checkLimits({ checks: [{ policy: 'ai', userId: 'a' }, { policy: 'tts', ip: '192.0.2.1' }] }));
      expect(ms).toBeLessThan(DEADLINE_MS + MARGIN_MS);
      expect(value.results.map((r) => [r.response?.policy, r.response?.allowed, r.response?.unavailable])).toEqual([
        ['ai', false, true],
        ['tts', false, true],
      ]);
    } finally {
      client.close();
    }
  });

  it("onUnavailable='throw' and the other RPCs reject with a FloodgateError within the deadline", async () => {
    const events: UnavailableEvent[] = [];
    const client = createClient({ address: targets[name]!.address, deadlineMs: DEADLINE_MS, onUnavailable: 'throw', onUnavailableEvent: (e) => events.push(e), checkTransport });
    try {
      for (const call of [() => client.checkLimit({ policy: 'ai', userId: 'a' }), () => client.getLimitStatus({ userId: 'a' })]) {
        const start = performance.now();
        const err = await call().then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(performance.now() - start).toBeLessThan(DEADLINE_MS + MARGIN_MS);
        expect(err).toBeInstanceOf(FloodgateError);
        expect([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]).toContain((err as FloodgateError).code);
      }
      expect(events.map((e) => [e.method, e.outcome])).toEqual([
        ['CheckLimit', 'throw'],
        ['GetLimitStatus', 'throw'],
      ]);
    } finally {
      client.close();
    }
  });
});

describe.each(TRANSPORTS)('reporting without a callback, checks by %s', (checkTransport) => {
  it('emits one process warning per outage, not one per call', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      if ((w as { code?: string }).code === 'FLOODGATE_UNAVAILABLE') warnings.push(w);
    };
    process.on('warning', onWarning);
    const answering = { on: true };
    const server = await hangingGrpcServer(answering);
    const client = createClient({ address: server.address, deadlineMs: DEADLINE_MS, onUnavailable: 'allow', checkTransport });
    const check = async () => (await client.checkLimit({ policy: 'ai', userId: 'w' })).unavailable;
    const tick = () => new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    try {
      expect(await check()).toBe(false);
      answering.on = false;
      for (let i = 0; i < 3; i++) expect(await check()).toBe(true);
      await tick();
      expect(warnings).toHaveLength(1);
      expect(warnings[0]!.message).toContain(server.address);
      answering.on = true;
      expect(await check()).toBe(false);
      answering.on = false;
      expect(await check()).toBe(true);
      await tick();
      expect(warnings).toHaveLength(2);
    } finally {
      process.off('warning', onWarning);
      client.close();
      await server.close();
    }
  });
});

describe('client options', () => {
  it('reject checks by default when Floodgate is unreachable: deciding is the caller\'s choice', async () => {
    const client = createClient({ address: `127.0.0.1:${await freePort()}`, deadlineMs: DEADLINE_MS, onUnavailableEvent: () => {} });
    try {
      await expect(client.checkLimit({ policy: 'ai', userId: 'a' })).rejects.toMatchObject({ code: status.UNAVAILABLE });
    } finally {
      client.close();
    }
  });

  it.each([
    [{ address: '' }, 'address'],
    [{ address: 'localhost' }, 'address'],
    [{ address: 'localhost:' }, 'address'],
    [{ address: 'localhost:0' }, 'address'],
    [{ address: 'localhost:70000' }, 'address'],
    [{ address: 'localhost:http' }, 'address'],
    [{ address: '::1' }, 'address'],
    [{ address: '[::1]' }, 'address'],
    [{ address: 50051 as never }, 'address'],
    [{ address: '127.0.0.1:1', deadlineMs: 0 }, 'deadlineMs'],
    [{ address: '127.0.0.1:1', deadlineMs: Number.NaN }, 'deadlineMs'],
    [{ address: '127.0.0.1:1', onUnavailable: 'maybe' as never }, 'onUnavailable'],
    [{ address: '127.0.0.1:1', denyCache: { maxEntries: 0 } }, 'denyCache.maxEntries'],
    [{ address: '127.0.0.1:1', denyCache: { maxEntries: -5 } }, 'denyCache.maxEntries'],
    [{ address: '127.0.0.1:1', denyCache: { maxEntires: 5 } as never }, 'denyCache.maxEntires'],
    [{ address: '127.0.0.1:1', denyCache: 'yes' as never }, 'denyCache'],
    [{ address: '127.0.0.1:1', checkTransport: 'carrier-pigeon' as never }, 'checkTransport'],
    [{ address: '127.0.0.1:1', token: 42 as never }, 'token'],
    [{ address: '127.0.0.1:1', onUnavailableEvent: 'log' as never }, 'onUnavailableEvent'],
    [{ address: '127.0.0.1:1', bogus: 1 } as never, 'bogus'],
    [{ address: '127.0.0.1:1', deadline: 200 } as never, 'deadline'],
    [null as never, 'options'],
  ])('rejects %j with a FloodgateError naming %s', (opts, field) => {
    const err = (() => {
      try {
        createClient(opts);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(FloodgateError);
    expect(err).toMatchObject({ code: status.INVALID_ARGUMENT, field, message: expect.stringMatching(new RegExp(`^${field.replace('.', '\\.')}: `)) });
  });

  it.each(['127.0.0.1:50051', 'localhost:1', 'floodgate.default.svc.cluster.local:65535', '[::1]:50051'])('accepts the address %s', (address) => {
    createClient({ address, denyCache: { maxEntries: 5 }, onUnavailableEvent: undefined }).close();
  });
});

/** A real gRPC server whose CheckLimit answers UNAVAILABLE, as Floodgate does when its store cannot decide (no stream: the client falls back to calls). */
async function refusingGrpcServer(details: string): Promise<{ address: string; close(): void }> {
  const refuse = (_call: unknown, cb: (err: object) => void) => cb({ code: status.UNAVAILABLE, details });
  return fakeGrpcServer([[RateLimitServiceService, { checkLimit: refuse, checkLimits: refuse }]]);
}

describe.each(TRANSPORTS)('the process warning, checks by %s', (checkTransport) => {
  async function warningOf(address: string, mode: 'allow' | 'deny' | 'throw', deadlineMs = DEADLINE_MS): Promise<string> {
    const warnings: Error[] = [];
    const onWarning = (w: Error) => {
      if ((w as { code?: string }).code === 'FLOODGATE_UNAVAILABLE') warnings.push(w);
    };
    process.on('warning', onWarning);
    const client = createClient({ address, deadlineMs, onUnavailable: mode, checkTransport });
    try {
      await client.checkLimit({ policy: 'ai', userId: 'w' }).catch(() => {});
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
      expect(warnings).toHaveLength(1);
      return warnings[0]!.message;
    } finally {
      process.off('warning', onWarning);
      client.close();
    }
  }

  it('says a deadline ran out, not that Floodgate is unavailable, and what the check answered', async () => {
    const server = await hangingGrpcServer();
    try {
      const message = await warningOf(server.address, 'throw');
      expect(message).toBe(`CheckLimit to Floodgate at ${server.address} ran out of its deadline (no answer from Floodgate at ${server.address} within ${DEADLINE_MS} ms); failing the check (onUnavailable: 'throw')`);
    } finally {
      await server.close();
    }
  });

  it('says Floodgate answered UNAVAILABLE with its reason when it did', async () => {
    const server = await refusingGrpcServer('the store is unreachable');
    try {
      const message = await warningOf(server.address, 'allow', 5_000);
      expect(message).toBe(`CheckLimit to Floodgate at ${server.address} failed with UNAVAILABLE (the store is unreachable); allowing the check (onUnavailable: 'allow')`);
    } finally {
      server.close();
    }
  });

  it('says the connection failed when nothing listens', async () => {
    const address = `127.0.0.1:${await freePort()}`;
    const message = await warningOf(address, 'deny', 2_000);
    expect(message).toMatch(new RegExp(`^CheckLimit to Floodgate at ${address} failed with UNAVAILABLE \\(.+\\); denying the check \\(onUnavailable: 'deny'\\)$`));
  });
});
