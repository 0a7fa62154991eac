import type { Sink } from '../sink.js';
import { BLOCKED, MODE_CODE, VALUES_PER_DECISION, type Algorithm, type LimitOutcome } from '../limiter/algorithm.js';
import { NUMBER_BYTES, Packer, stringBytes } from './msgpack.js';
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

/**
 * Told each key's outcome of a decideEach() call once its last group has answered, never before
 * that call has returned. It must not throw: it is called in a loop over a reply's decisions.
 */
export type SettledSink = Pick<Sink<Settled[]>, 'done'>;

/** The calls of one decideEach(): settles when the last of its groups answers. */
interface Request {
  settled: Settled[];
  pending: number;
  sink: SettledSink;
  /** The clock its decisions are made at. */
  now: number;
}

interface Group {
  algorithm: Algorithm<any>;
  /** Each key once: a hot key's decisions all name the same index. */
  keys: ScriptKeys;
  /** The group's decisions, packed straight into the script's argument when it is sent. */
  calls: LimitCall[];
  /** For each decision, the KEYS indexes of its state key and block key. */
  keyIndexes: number[];
  /** For each decision in the group, its request and its index there. */
  requests: Request[];
  indexes: number[];
}

/**
 * Coalesces the decisions made in one turn of the event loop: those on keys of one subject (one
 * block key, so one hash tag) and algorithm go to Redis as one script call, in arrival order (they
 * share a slot, a node and a script anyway, so this stays Cluster-safe and each decision stays
 * atomic). A hot user or IP under a flood, the load a rate limiter exists for, then costs Redis
 * and the client one command per turn instead of one per request. Without concurrency each
 * decision is its own call as before. Every group of a turn is sent together, inside
 * `together`, which the Redis store makes one write per node.
 */
export class Coalescer {
  /**
   * This turn's open groups, by algorithm and then by block key. A block key names its subject,
   * and every key of a subject carries the subject's hash tag (KeySpace), so one block key is one
   * tag; it is a string KeySpace keeps, whose hash V8 keeps too, where a tag cut from each key
   * cost a new string and its hash per decision.
   */
  private groups = new Map<Algorithm<any>, Map<string, Group>>();
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

  /** Every key's outcome of `calls` to `sink` at once: a failed script call settles its keys with its error. */
  decideEach(calls: readonly LimitCall[], now: number, sink: SettledSink): void {
    if (calls.length === 0) return queueMicrotask(() => sink.done([]));
    const request: Request = { settled: new Array<Settled>(calls.length), pending: calls.length, sink, now };
    for (let i = 0; i < calls.length; i++) this.add(calls[i]!, request, i);
  }

  private add(call: LimitCall, request: Request, index: number): void {
    let groups = this.groups.get(call.algorithm);
    if (!groups) this.groups.set(call.algorithm, (groups = new Map()));
    let group = groups.get(call.blockKey);
    if (!group) {
      group = { algorithm: call.algorithm, keys: new ScriptKeys(), calls: [], keyIndexes: [], requests: [], indexes: [] };
      groups.set(call.blockKey, group);
    }
    group.keyIndexes.push(group.keys.of(call.key), group.keys.of(call.blockKey));
    group.calls.push(call);
    group.requests.push(request);
    group.indexes.push(index);
    if (group.requests.length >= this.maxPerScript) {
      // Later decisions on this subject start a new group; this one leaves first, with the turn's others.
      groups.delete(call.blockKey);
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
    const groups = this.full;
    for (const byBlockKey of this.groups.values()) groups.push(...byBlockKey.values());
    this.full = [];
    this.groups = new Map();
    this.together(() => {
      for (const group of groups) this.send(group);
    });
  };

  private send(group: Group): void {
    const { algorithm, keys, calls, keyIndexes, requests, indexes } = group;
    const settle = (i: number, value: Settled) => {
      const request = requests[i]!;
      request.settled[indexes[i]!] = value;
      if (--request.pending === 0) request.sink.done(request.settled);
    };
    this.run(algorithm, keys.keys, packDecisions(calls, requests, undefined, keyIndexes), requests.length > 1).then(
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
  private async decideByKey({ algorithm, calls, requests }: Group, exists: KeyProbe): Promise<Settled[]> {
    const settled = new Array<Settled>(calls.length);
    const blocked = new Map<string, boolean | Error>();
    await Promise.all([...new Set(calls.map((c) => c.blockKey))].map(async (b) => blocked.set(b, await exists(b).catch((err: Error) => err))));
    const byStateKey = new Map<string, number[]>();
    // Each script names its one state key (KEYS[1]) and no block key (asked above).
    const alone = calls.flatMap(() => [1, 0]);
    calls.forEach((call, i) => {
      const block = blocked.get(call.blockKey)!;
      if (block instanceof Error) settled[i] = block;
      else if (block && call.mode !== 'refund') settled[i] = BLOCKED;
      else if (byStateKey.has(call.key)) byStateKey.get(call.key)!.push(i);
      else byStateKey.set(call.key, [i]);
    });
    await Promise.all(
      [...byStateKey].map(async ([stateKey, decisions]) => {
        try {
          const reply = await this.run(algorithm, [stateKey], packDecisions(calls, requests, decisions, alone), decisions.length > 1);
          decisions.forEach((i, j) => (settled[i] = toOutcome(reply, j * 4)));
        } catch (err) {
          for (const i of decisions) settled[i] = err as Error;
        }
      }),
    );
    return settled;
  }
}

/** Bytes a decision takes packed at most, besides its member. */
const DECISION_BYTES = (VALUES_PER_DECISION - 1) * NUMBER_BYTES;

/**
 * scriptOf's values of the decisions at `which` (all when undefined): the KEYS indexes of each
 * one's state key and block key (`keyIndexes`, two per decision), its clock, arguments and mode.
 */
function packDecisions(calls: readonly LimitCall[], requests: readonly Request[], which: readonly number[] | undefined, keyIndexes: readonly number[]): Buffer {
  const n = which ? which.length : calls.length;
  let bound = 0;
  for (let j = 0; j < n; j++) bound += DECISION_BYTES + stringBytes(calls[which ? which[j]! : j]!.args.member);
  const packer = new Packer(n * VALUES_PER_DECISION, bound);
  for (let j = 0; j < n; j++) {
    const i = which ? which[j]! : j;
    const call = calls[i]!;
    const { limit, windowMs, cost, burst, member } = call.args;
    packer.number(keyIndexes[2 * i]!);
    packer.number(keyIndexes[2 * i + 1]!);
    packer.number(requests[i]!.now);
    packer.number(windowMs);
    packer.number(limit);
    packer.number(cost);
    packer.number(burst);
    packer.string(member);
    packer.number(MODE_CODE[call.mode]);
  }
  return packer.finish();
}

function toOutcome(reply: number[], at: number): LimitOutcome {
  const status = reply[at]!;
  return { allowed: status === 1, blocked: status === -1, remaining: reply[at + 1]!, resetAfterMs: reply[at + 2]!, retryAfterMs: reply[at + 3]! };
}
