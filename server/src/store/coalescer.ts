import { BLOCKED, MODE_CODE, VALUES_PER_DECISION, type Algorithm, type LimitOutcome } from '../limiter/algorithm.js';
import { hashTagOf } from './keys.js';
import { packArray } from './msgpack.js';
import { ScriptKeys } from './redis-script.js';
import { SLOT_MOVING, type LimitCall } from './store.js';

/**
 * Runs an algorithm's script (see scriptOf: the one for many decisions when `many`) with its
 * KEYS and packed decisions; resolves with its flat reply.
 */
export type ScriptRunner = (algorithm: Algorithm<any>, keys: string[], decisions: Buffer, many: boolean) => Promise<number[]>;

/** Whether a key exists (a subject's block key), for decisions made key by key. */
export type KeyProbe = (key: string) => Promise<boolean>;

/** Each key's outcome, or the error that kept its script call from one. */
export type Settled = LimitOutcome | Error;

/** The calls of one decideEach(): settles when the last of its groups answers. */
interface Request {
  settled: Settled[];
  pending: number;
  resolve(settled: Settled[]): void;
}

interface Group {
  algorithm: Algorithm<any>;
  /** Each key once: a hot key's decisions all name the same index. */
  keys: ScriptKeys;
  /** scriptOf's values of every decision, packed when the group is sent. */
  values: Array<string | number>;
  /** For each decision in the group, its request and its index there. */
  requests: Request[];
  indexes: number[];
}

/**
 * Coalesces the decisions made in one turn of the event loop: those on keys of one hash tag and
 * algorithm go to Redis as one script call, in arrival order (they share a slot, a node and a
 * script anyway, so this stays Cluster-safe and each decision stays atomic). A hot user or IP
 * under a flood, the load a rate limiter exists for, then costs Redis and the client one command
 * per turn instead of one per request. Without concurrency each decision is its own call as
 * before. Every group of a turn is sent together, inside `together`, which the Redis store
 * makes one write per node.
 */
export class Coalescer {
  private groups = new Map<string, Group>();
  /** Groups that reached maxPerScript this turn, in the order they did. */
  private full: Group[] = [];
  private scheduled = false;

  constructor(
    private readonly run: ScriptRunner,
    /** Bounds one script's run time: Redis serves nothing else while a script runs. */
    private readonly maxPerScript: number,
    /** Runs the sends of one turn (see inOneWrite). */
    private readonly together: (send: () => void) => void = (send) => send(),
    /** Where given, a group refused because its slot is moving is decided key by key (see decideByKey). */
    private readonly exists?: KeyProbe,
  ) {}

  /** One promise for all `calls`, which never rejects: a failed script call settles its keys with its error. */
  decideEach(calls: readonly LimitCall[], now: number): Promise<Settled[]> {
    if (calls.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const request: Request = { settled: new Array<Settled>(calls.length), pending: calls.length, resolve };
      for (let i = 0; i < calls.length; i++) this.add(calls[i]!, now, request, i);
    });
  }

  private add(call: LimitCall, now: number, request: Request, index: number): void {
    const id = call.algorithm.name + hashTagOf(call.key);
    let group = this.groups.get(id);
    if (!group) {
      group = { algorithm: call.algorithm, keys: new ScriptKeys(), values: [], requests: [], indexes: [] };
      this.groups.set(id, group);
    }
    const { limit, windowMs, cost, burst, member } = call.args;
    // The layout scriptOf reads.
    group.values.push(group.keys.of(call.key), group.keys.of(call.blockKey), now, windowMs, limit, cost, burst, member, MODE_CODE[call.mode]);
    group.requests.push(request);
    group.indexes.push(index);
    if (group.requests.length >= this.maxPerScript) {
      // Later decisions on this tag start a new group; this one leaves first, with the turn's others.
      this.groups.delete(id);
      this.full.push(group);
    }
    if (!this.scheduled) {
      // After the poll phase: every request that arrived in this turn has made its decisions.
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const groups = [...this.full, ...this.groups.values()];
    this.full = [];
    this.groups = new Map();
    this.together(() => {
      for (const group of groups) this.send(group);
    });
  };

  private send(group: Group): void {
    const { algorithm, keys, values, requests, indexes } = group;
    const settle = (i: number, value: Settled) => {
      const request = requests[i]!;
      request.settled[indexes[i]!] = value;
      if (--request.pending === 0) request.resolve(request.settled);
    };
    this.run(algorithm, keys.keys, packArray(values), requests.length > 1).then(
      (reply) => {
        for (let i = 0; i < requests.length; i++) settle(i, toOutcome(reply, i * 4));
      },
      (err: Error) => {
        if (!this.exists || !SLOT_MOVING.test(err.message)) {
          for (let i = 0; i < requests.length; i++) settle(i, err);
          return;
        }
        void this.decideByKey(group, this.exists).then((settled) => settled.forEach((s, i) => settle(i, s)));
      },
    );
  }

  /**
   * A group's decisions while its slot moves: the block key checked on its own, then one script
   * per state key, with that key alone. A single key is wholly on one master or the other, so
   * each script runs where the key is (Redis redirects it there) and each decision stays atomic
   * and exact; only the block check is no longer atomic with the decisions (a suspension made in
   * between applies from the next call). Never rejects.
   */
  private async decideByKey({ algorithm, keys, values }: Group, exists: KeyProbe): Promise<Settled[]> {
    const n = values.length / VALUES_PER_DECISION;
    const at = (i: number, field: number) => values[i * VALUES_PER_DECISION + field] as number;
    const settled = new Array<Settled>(n);
    const blocked = new Map<number, boolean | Error>();
    await Promise.all(
      [...new Set(Array.from({ length: n }, (_, i) => at(i, 1)))].map(async (b) =>
        blocked.set(b, await exists(keys.keys[b - 1]!).catch((err: Error) => err)),
      ),
    );
    const byStateKey = new Map<number, number[]>();
    for (let i = 0; i < n; i++) {
      const block = blocked.get(at(i, 1))!;
      if (block instanceof Error) settled[i] = block;
      else if (block && at(i, 8) !== MODE_CODE.refund) settled[i] = BLOCKED;
      else if (byStateKey.has(at(i, 0))) byStateKey.get(at(i, 0))!.push(i);
      else byStateKey.set(at(i, 0), [i]);
    }
    await Promise.all(
      [...byStateKey].map(async ([stateKey, decisions]) => {
        const single: Array<string | number> = [];
        for (const i of decisions) {
          const v = values.slice(i * VALUES_PER_DECISION, (i + 1) * VALUES_PER_DECISION);
          v[0] = 1; // this call's one key
          v[1] = 0; // no block key: checked above
          single.push(...v);
        }
        try {
          const reply = await this.run(algorithm, [keys.keys[stateKey - 1]!], packArray(single), decisions.length > 1);
          decisions.forEach((i, j) => (settled[i] = toOutcome(reply, j * 4)));
        } catch (err) {
          for (const i of decisions) settled[i] = err as Error;
        }
      }),
    );
    return settled;
  }
}

function toOutcome(reply: number[], at: number): LimitOutcome {
  const status = reply[at]!;
  return { allowed: status === 1, blocked: status === -1, remaining: reply[at + 1]!, resetAfterMs: reply[at + 2]!, retryAfterMs: reply[at + 3]! };
}
