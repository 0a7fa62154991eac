import { Reason } from '@floodgate/client';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManualClock } from '../../server/src/clock.js';
import { RateLimiter } from '../../server/src/limiter/rate-limiter.js';
import { IpAllowlist } from '../../server/src/net/ip.js';
import { StaticPolicySource } from '../../server/src/policy/policy-source.js';
import { ALGORITHMS } from '../../server/src/policy/policy.js';
import { KeySpace } from '../../server/src/store/keys.js';
import { parseHostPorts } from '../../server/src/store/redis-connection.js';
import { FailoverStore } from '../../server/src/store/failover-store.js';
import { MemoryStore } from '../../server/src/store/memory-store.js';
import { RedisStore } from '../../server/src/store/redis-store.js';
import { ActivityBuffer } from '../../server/src/tracking/activity-buffer.js';
import { openTracking } from '../../server/src/tracking/open-tracking.js';
import { Tracker } from '../../server/src/tracking/tracker.js';
import { RedisCluster } from '../support/redis-cluster.js';
import { policy, silentLog, uniquePrefix } from '../support/stack.js';

/** node id and port of every master, and which of them owns `slot`. */
async function owners(ports: number[], slot: number): Promise<{ ids: Map<number, string>; owner: number }> {
  const c = new Redis({ port: ports[0]!, host: '127.0.0.1' });
  try {
    const ids = new Map<number, string>();
    let owner = -1;
    for (const line of (await c.cluster('NODES')).trim().split('\n')) {
      const [id, addr, , , , , , , ...slots] = line.split(' ');
      const port = Number(addr!.split(':')[1]!.split('@')[0]);
      ids.set(port, id!);
      for (const range of slots) {
        const [from, to = from] = range.split('-').map(Number);
        if (slot >= from! && slot <= to!) owner = port;
      }
    }
    return { ids, owner };
  } finally {
    c.disconnect();
  }
}

/**
 * Moves one slot from its master to another the way `redis-cli --cluster reshard` does: IMPORTING
 * on the target, MIGRATING on the source, MIGRATE its keys in batches, then SETSLOT NODE on all.
 */
async function moveSlot(ports: number[], slot: number, to: number, holdMs: number): Promise<void> {
  const { ids, owner: from } = await owners(ports, slot);
  const node = (port: number) => new Redis({ port, host: '127.0.0.1' });
  const [src, dst] = [node(from), node(to)];
  // Calls keep arriving while the slot is moving: before any key has moved, between keys, and
  // once all have moved but the slot is not yet the target's.
  const hold = () => new Promise((r) => setTimeout(r, holdMs));
  try {
    await dst.cluster('SETSLOT', slot, 'IMPORTING', ids.get(from)!);
    await src.cluster('SETSLOT', slot, 'MIGRATING', ids.get(to)!);
    await hold();
    for (;;) {
      const keys = (await src.cluster('GETKEYSINSLOT', slot, 1)) as string[];
      if (keys.length === 0) break;
      await src.migrate('127.0.0.1', to, '', 0, 5_000, 'KEYS', ...keys);
      await hold();
    }
    for (const port of [to, from, ...ports.filter((p) => p !== to && p !== from)]) {
      const c = node(port);
      await c.cluster('SETSLOT', slot, 'NODE', ids.get(to)!).finally(() => c.disconnect());
    }
  } finally {
    src.disconnect();
    dst.disconnect();
  }
}

describe('a Redis Cluster slot moving to another master under load', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    // Its own cluster: this test moves a slot.
    cluster = await RedisCluster.start();
  });
  afterAll(() => cluster?.stop());

  it.each(ALGORITHMS)('%s: decides every call in Redis, exactly and within the deadline, while the user’s slot moves, and users elsewhere too', async (algorithm) => {
    const ports = parseHostPorts(cluster.nodes).map((n) => n.port);
    const target = { kind: 'cluster' as const, nodes: parseHostPorts(cluster.nodes) };
    const keys = new KeySpace(uniquePrefix());
    const clock = new ManualClock();
    // `closed`: a call Redis could not decide would be denied (and marked degraded).
    const policies = new StaticPolicySource([policy({ name: 'p', algorithm, limit: 60, windowMs: 60_000, scopes: ['user'], failureMode: 'closed' })]);
    // Three replicas wired as main.ts wires them: Redis behind the failover layer, with its timings.
    const primaries = await Promise.all([0, 1, 2].map(() => RedisStore.connect({ target, commandTimeoutMs: 500, connectTimeoutMs: 5_000 })));
    const stores = primaries.map(
      (primary) => new FailoverStore({ primary, local: new MemoryStore(clock), probeIntervalMs: 100, failureThreshold: 3, log: silentLog }),
    );
    const limiters = stores.map((store) => new RateLimiter({ store, policies, keys, clock, allowlist: new IpAllowlist([]), maxBatch: 10 }));
    const userId = `mover-${algorithm}`;
    const check = (i: number, user = userId) => limiters[i % 3]!.check({ policy: 'p', userId: user, ip: '', cost: 1, dryRun: false, recordActivity: '', sessionId: '' });
    try {
      // The user's state key exists before the move.
      expect((await check(0)).allowed).toBe(true);
      const probe = new Redis({ port: ports[0]!, host: '127.0.0.1' });
      const slot = (await probe.cluster('KEYSLOT', `{u:${userId}}`)) as number;
      probe.disconnect();
      const { owner } = await owners(ports, slot);
      const to = ports.find((p) => p !== owner)!;
      // A user on another slot of the same master, checked by the same replicas meanwhile.
      let bystander = '';
      for (let n = 0; !bystander; n++) {
        const c = new Redis({ port: owner, host: '127.0.0.1' });
        const s = (await c.cluster('KEYSLOT', `{u:stay-${n}}`)) as number;
        c.disconnect();
        if (s !== slot && (await owners(ports, s)).owner === owner) bystander = `stay-${n}`;
      }
      const bystanderAnswers: Array<{ degraded: boolean }> = [];

      let stop = false;
      const answers: Array<{ allowed: boolean; degraded: boolean; reason: Reason; ms: number }> = [];
      const errors: string[] = [];
      const bystanderLoop = (async () => {
        for (let i = 0; !stop; i++) {
          await check(i, bystander).then((r) => bystanderAnswers.push({ degraded: r.degraded }), (e: Error) => errors.push(e.message));
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      const loops = [0, 1, 2, 3].map(async (l) => {
        for (let i = l; !stop; i += 4) {
          const started = performance.now();
          await check(i).then(
            (r) => answers.push({ allowed: r.allowed, degraded: r.degraded, reason: r.reason, ms: performance.now() - started }),
            (e: Error) => errors.push(e.message),
          );
          // A call decided by the failure mode settles without I/O: let timers run.
          await new Promise((r) => setImmediate(r));
        }
      });
      await new Promise((r) => setTimeout(r, 50));
      const before = answers.length;
      await moveSlot(ports, slot, to, 150);
      const during = answers.length - before;
      // Until Redis decides the user's calls again, now on the slot's new master.
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline && (answers.length === 0 || answers.at(-1)!.degraded)) await new Promise((r) => setTimeout(r, 50));
      stop = true;
      await Promise.all([...loops, bystanderLoop]);

      expect(errors).toEqual([]);
      expect((await owners(ports, slot)).owner).toBe(to);
      expect(during).toBeGreaterThan(10);
      expect(Math.max(...answers.map((a) => a.ms))).toBeLessThan(2_000);
      expect(answers.at(-1)!.degraded).toBe(false);
      // Decided by Redis throughout, key by key while the slot moved: exactly the rest of the limit.
      expect(answers.filter((a) => a.degraded)).toEqual([]);
      expect(answers.filter((a) => a.allowed)).toHaveLength(59);
      // Every answer is the user's own limit's: none from a block key the user does not have.
      expect(new Set(answers.map((a) => a.reason))).toEqual(new Set([Reason.REASON_OK, Reason.REASON_OVER_LIMIT]));
      // The move refuses only its own slot: a user elsewhere is decided by Redis throughout.
      expect(bystanderAnswers.length).toBeGreaterThan(10);
      expect(bystanderAnswers.filter((a) => a.degraded)).toEqual([]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  }, 60_000);

  it('records every activity of a user whose slot moves meanwhile: written, or held and written once the move ends', async () => {
    const ports = parseHostPorts(cluster.nodes).map((n) => n.port);
    const store = await RedisStore.connect({ target: { kind: 'cluster', nodes: parseHostPorts(cluster.nodes) }, commandTimeoutMs: 500, connectTimeoutMs: 5_000 });
    const buffer = new ActivityBuffer({ capacity: 10_000, retryIntervalMs: 50, log: silentLog });
    const clock = new ManualClock();
    const tracker = new Tracker(openTracking(store, new KeySpace(uniquePrefix()), clock).tracking, clock, buffer);
    const userId = 'tracked-mover';
    const record = () => tracker.record(tracker.event({ userId, activity: 'ai', ip: '', sessionId: '', atMs: clock.now() }));
    try {
      expect(await record()).toBe('written');
      const probe = new Redis({ port: ports[0]!, host: '127.0.0.1' });
      const slot = (await probe.cluster('KEYSLOT', `{u:${userId}}`)) as number;
      probe.disconnect();
      const { owner } = await owners(ports, slot);
      let stop = false;
      const results: string[] = [];
      const loop = (async () => {
        while (!stop) {
          results.push(await record());
          await new Promise((r) => setTimeout(r, 2));
        }
      })();
      await moveSlot(ports, slot, ports.find((p) => p !== owner)!, 150);
      stop = true;
      await loop;
      const deadline = Date.now() + 10_000;
      while (buffer.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(buffer.size).toBe(0);
      // The move refused the user's writes for a while (a multi-key script); none was lost.
      expect(results).toContain('buffered');
      expect(results.filter((r) => r === 'dropped')).toEqual([]);
      expect((await tracker.stats(userId)).stats?.totalRequests).toBe(1 + results.length);
    } finally {
      buffer.close();
      await store.close();
    }
  }, 60_000);

  it('keeps a suspended user suspended while the user’s slot moves, decided by Redis', async () => {
    const ports = parseHostPorts(cluster.nodes).map((n) => n.port);
    const target = { kind: 'cluster' as const, nodes: parseHostPorts(cluster.nodes) };
    const keys = new KeySpace(uniquePrefix());
    const clock = new ManualClock();
    const policies = new StaticPolicySource([policy({ name: 'p', limit: 60, windowMs: 60_000, scopes: ['user'], failureMode: 'open' })]);
    const store = new FailoverStore({
      primary: await RedisStore.connect({ target, commandTimeoutMs: 500, connectTimeoutMs: 5_000 }),
      local: new MemoryStore(clock),
      probeIntervalMs: 100,
      failureThreshold: 3,
      log: silentLog,
    });
    const limiter = new RateLimiter({ store, policies, keys, clock, allowlist: new IpAllowlist([]), maxBatch: 10 });
    const userId = 'suspended-mover';
    const raw = new Cluster(target.nodes);
    try {
      // Counted once, then suspended: both the state key and the block key exist on the slot.
      expect((await limiter.check({ policy: 'p', userId, ip: '', cost: 1, dryRun: false, recordActivity: '', sessionId: '' })).allowed).toBe(true);
      await raw.set(keys.block('user', userId), '1', 'PX', 60_000);
      const slot = (await raw.cluster('KEYSLOT', `{u:${userId}}`)) as number;
      const { owner } = await owners(ports, slot);
      let stop = false;
      const reasons: Array<{ reason: Reason; degraded: boolean }> = [];
      const loop = (async () => {
        while (!stop) {
          const r = await limiter.check({ policy: 'p', userId, ip: '', cost: 1, dryRun: false, recordActivity: '', sessionId: '' });
          reasons.push({ reason: r.reason, degraded: r.degraded });
          await new Promise((res) => setTimeout(res, 2));
        }
      })();
      await moveSlot(ports, slot, ports.find((p) => p !== owner)!, 150);
      stop = true;
      await loop;
      expect(reasons.length).toBeGreaterThan(20);
      // `open` would have allowed a call Redis could not decide: every one was Redis's, and suspended.
      expect(reasons.filter((r) => r.degraded || r.reason !== Reason.REASON_SUSPENDED)).toEqual([]);
    } finally {
      raw.disconnect();
      await store.close();
    }
  }, 60_000);
});
