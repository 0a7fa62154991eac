import { Client, credentials, status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterEach, describe, expect, inject, it } from 'vitest';
import { ConfigError, loadConfig } from '../../server/src/config/env.js';
import { ArraySet, StreamTable } from '@floodgate/client/http2';
import { grpcStack } from '../support/stack.js';

const redisUrl = inject('redisUrl');
const HEALTH_CHECK = '/grpc.health.v1.Health/Check';
const OWN_CONNECTION = { 'grpc.use_local_subchannel_pool': 1 };

describe('StreamTable', () => {
  it('answers get, size and forEach as a Map does, under any sequence of sets and deletes', () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), id: fc.integer({ min: 1, max: 40 }), value: fc.integer() }),
      fc.record({ kind: fc.constant('delete' as const), id: fc.integer({ min: 1, max: 40 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
        const map = new Map<number, number>();
        const table = new StreamTable<number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            map.set(o.id, o.value);
            table.set(o.id, o.value);
          } else {
            expect(table.delete(o.id)).toBe(map.delete(o.id));
          }
          expect(table.size).toBe(map.size);
          expect(table.get(o.id)).toBe(map.get(o.id));
        }
        const seen: [number, number][] = [];
        table.forEach((value, id) => seen.push([id, value]));
        expect(seen.sort((a, b) => a[0] - b[0])).toEqual([...map.entries()].sort((a, b) => a[0] - b[0]));
      }),
    );
  });

  it('skips entries deleted by forEach before they are reached, as a session closing its streams does', () => {
    const table = new StreamTable<string>();
    for (const id of [1, 3, 5, 7]) table.set(id, `s${id}`);
    const visited: number[] = [];
    table.forEach((_, id) => {
      visited.push(id);
      table.delete(id);
      table.delete(id + 2);
    });
    expect(visited).toEqual([1, 5]);
    expect(table.size).toBe(0);
  });
});

describe('ArraySet', () => {
  it('answers has, size, forEach and iteration as a Set does, under any sequence of adds and deletes', () => {
    const items = Array.from({ length: 8 }, (_, i) => ({ stream: i }));
    const op = fc.record({ add: fc.boolean(), item: fc.constantFrom(...items) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 100 }), (ops) => {
        const set = new Set<object>();
        const pending = new ArraySet<object>();
        for (const o of ops) {
          if (o.add) {
            set.add(o.item);
            pending.add(o.item);
          } else {
            expect(pending.delete(o.item)).toBe(set.delete(o.item));
          }
          expect(pending.size).toBe(set.size);
          expect(pending.has(o.item)).toBe(set.has(o.item));
        }
        const seen: object[] = [];
        pending.forEach((item) => seen.push(item));
        expect(seen).toEqual([...set]);
        expect([...pending]).toEqual([...set]);
      }),
    );
  });

  const traversals: Array<[string, (set: ArraySet<object>, visit: (item: object) => void) => void]> = [
    ['forEach', (set, visit) => set.forEach(visit)],
    // As grpc-js's disconnect loop does over a transport's calls.
    ['for…of', (set, visit) => {
      for (const item of set) visit(item);
    }],
  ];
  it.each(traversals)('skips items deleted by %s before they are reached, as a Set does', (_, traverse) => {
    const [a, b, c] = [{}, {}, {}];
    const set = new ArraySet<object>().add(a).add(b).add(c);
    const visited: object[] = [];
    traverse(set, (item) => {
      visited.push(item);
      set.delete(item);
      set.delete(b);
    });
    expect(visited).toEqual([a, c]);
    expect(set.size).toBe(0);
  });
});

describe('the gRPC server with stream tables', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('gives every session a StreamTable and an ArraySet and serves concurrent, cancelled and later calls over it', async () => {
    const stack = await grpcStack('redis', redisUrl);
    close = stack.close;
    const checks = Array.from({ length: 300 }, (_, i) => stack.client.checkLimit({ policy: 'general', userId: `table-${i % 7}` }));
    expect((await Promise.all(checks)).every((r) => r.allowed)).toBe(true);

    // Calls the client gives up on at once, their streams ending with RST_STREAM rather than a
    // response, on a second connection of their own (and so a second session and table).
    const raw = new Client(stack.address, credentials.createInsecure(), OWN_CONNECTION);
    const abandoned = Array.from(
      { length: 50 },
      () =>
        new Promise<number>((resolve) => {
          const call = raw.makeUnaryRequest(HEALTH_CHECK, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err) => resolve(err?.code ?? status.OK));
          setImmediate(() => call.cancel());
        }),
    );
    expect((await Promise.all(abandoned)).filter((code) => code === status.CANCELLED).length).toBeGreaterThan(0);
    raw.close();
    expect((await stack.client.checkLimit({ policy: 'general', userId: 'table-after' })).allowed).toBe(true);

    expect(stack.grpc.streamTables.servers).toBe(1);
    expect(stack.grpc.streamTables.sessions).toBeGreaterThanOrEqual(2);
    expect(stack.grpc.streamTables.replaced).toBe(stack.grpc.streamTables.sessions);
  });

  it('closes idle sessions on a graceful shutdown and ends calls in flight on a forced one', async () => {
    // A graceful close waits until the session's table is empty; a forced one walks it.
    const graceful = await grpcStack('redis', redisUrl);
    close = graceful.close;
    const done = await Promise.all(Array.from({ length: 20 }, (_, i) => graceful.client.checkLimit({ policy: 'general', userId: `table-drain-${i}` })));
    expect(done.every((r) => r.allowed)).toBe(true);
    // As shutdown does: the client's check stream ends first, or the session would stay busy.
    graceful.grpc.checkStreams.close();
    await new Promise<void>((resolve, reject) => graceful.grpc.server.tryShutdown((err) => (err ? reject(err) : resolve())));

    const forced = await grpcStack('redis', redisUrl);
    const raw = new Client(forced.address, credentials.createInsecure(), OWN_CONNECTION);
    await new Promise<void>((resolve, reject) => raw.waitForReady(Date.now() + 5_000, (err) => (err ? reject(err) : resolve())));
    const inFlight = Array.from(
      { length: 20 },
      () => new Promise<number>((resolve) => raw.makeUnaryRequest(HEALTH_CHECK, (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), (err) => resolve(err?.code ?? status.OK))),
    );
    await forced.close();
    const codes = await Promise.all(inFlight);
    raw.close();
    expect(codes.every((code) => code === status.OK || code === status.UNAVAILABLE || code === status.CANCELLED)).toBe(true);
    expect(forced.grpc.streamTables.replaced).toBe(forced.grpc.streamTables.sessions);
    expect(forced.grpc.streamTables.sessions).toBeGreaterThanOrEqual(1);
  });

  it('keeps Node\'s stream collections with HTTP2_STREAM_TABLES=false, and still serves', async () => {
    expect(loadConfig({}).http2StreamTables).toBe(true);
    expect(loadConfig({ HTTP2_STREAM_TABLES: 'false' }).http2StreamTables).toBe(false);
    expect(() => loadConfig({ HTTP2_STREAM_TABLES: 'sometimes' })).toThrow(ConfigError);
    expect(() => loadConfig({ HTTP2_STREAM_TABLES: 'sometimes' })).toThrow(/HTTP2_STREAM_TABLES/);

    const stack = await grpcStack('redis', redisUrl, { streamTables: false });
    close = stack.close;
    expect((await stack.client.checkLimit({ policy: 'general', userId: 'table-off' })).allowed).toBe(true);
    expect(stack.grpc.streamTables).toEqual({ servers: 0, sessions: 0, replaced: 0 });
  });
});
