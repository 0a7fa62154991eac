import { MODE_CODE, type Algorithm, type LimitOutcome } from '../limiter/algorithm.js';
import { hashTagOf } from './keys.js';
import type { LimitCall } from './store.js';

/** Runs an algorithm's script (see scriptOf) over (state key, block key) pairs; resolves with its flat reply. */
export type ScriptRunner = (algorithm: Algorithm<any>, keys: string[], argv: Array<string | number>) => Promise<number[]>;

/** Resolves with a one-element array: what a store's limit() of one call returns, without another promise. */
interface Waiter {
  resolve(outcome: [LimitOutcome]): void;
  reject(err: unknown): void;
}

interface Group {
  algorithm: Algorithm<any>;
  keys: string[];
  argv: Array<string | number>;
  waiters: Waiter[];
}

/**
 * Coalesces the decisions made in one turn of the event loop: those on keys of one hash tag and
 * algorithm go to Redis as one script call, in arrival order (they share a slot, a node and a
 * script anyway, so this stays Cluster-safe and each decision stays atomic). A hot user or IP
 * under a flood, the load a rate limiter exists for, then costs Redis and the client one command
 * per turn instead of one per request. Without concurrency each decision is its own call as
 * before. Every group of a turn is sent in the same tick, so auto-pipelining still writes them
 * in one round trip per node.
 */
export class Coalescer {
  private groups = new Map<string, Group>();
  private scheduled = false;

  constructor(
    private readonly run: ScriptRunner,
    /** Bounds one script's run time: Redis serves nothing else while a script runs. */
    private readonly maxPerScript: number,
  ) {}

  decide(call: LimitCall, now: number): Promise<[LimitOutcome]> {
    const id = call.algorithm.name + hashTagOf(call.key);
    let group = this.groups.get(id);
    if (!group) {
      group = { algorithm: call.algorithm, keys: [], argv: [], waiters: [] };
      this.groups.set(id, group);
    }
    const { limit, windowMs, cost, burst, member } = call.args;
    group.keys.push(call.key, call.blockKey);
    // The ARGV layout scriptOf reads.
    group.argv.push(now, windowMs, limit, cost, burst, member, MODE_CODE[call.mode]);
    const waiters = group.waiters;
    const outcome = new Promise<[LimitOutcome]>((resolve, reject) => waiters.push({ resolve, reject }));
    if (waiters.length >= this.maxPerScript) {
      this.groups.delete(id);
      this.send(group);
    } else if (!this.scheduled) {
      // After the poll phase: every request that arrived in this turn has made its decisions.
      this.scheduled = true;
      setImmediate(this.flush);
    }
    return outcome;
  }

  private readonly flush = (): void => {
    this.scheduled = false;
    const groups = this.groups;
    this.groups = new Map();
    for (const group of groups.values()) this.send(group);
  };

  private send({ algorithm, keys, argv, waiters }: Group): void {
    this.run(algorithm, keys, argv).then(
      (reply) => {
        for (let i = 0; i < waiters.length; i++) waiters[i]!.resolve([toOutcome(reply, i * 4)]);
      },
      (err: unknown) => {
        for (const w of waiters) w.reject(err);
      },
    );
  }
}

function toOutcome(reply: number[], at: number): LimitOutcome {
  const status = reply[at]!;
  return { allowed: status === 1, blocked: status === -1, remaining: reply[at + 1]!, resetAfterMs: reply[at + 2]!, retryAfterMs: reply[at + 3]! };
}
