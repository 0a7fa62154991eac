import { FloodgateError } from '@floodgate/client';
import { Cluster } from 'ioredis';
import { withDeadline } from '../deadline.js';
import { scriptOf, type Algorithm } from '../limiter/algorithm.js';
import { ALGORITHM_IMPLS } from '../limiter/algorithms.js';
import { Coalescer, type Settled, type SettledSink } from './coalescer.js';
import { createRedisClient, describeTarget, inOneWrite, type RedisClient, type RedisConnectionOptions } from './redis-connection.js';
import { RedisScript } from './redis-script.js';
import type { LimitCall, OutcomeSink, Store, StoreKind, StoreOutcome } from './store.js';

/** Decisions per script call at most: about a millisecond of Redis time for the slowest algorithm. */
const MAX_DECISIONS_PER_SCRIPT = 100;

/** Rate-limit state in Redis: each algorithm is one atomic script (EVALSHA, EVAL on NOSCRIPT), coalesced per hash tag. */
export class RedisStore implements Store {
  private readonly coalescer: Coalescer;
  /** Each algorithm's scripts: for a call of one decision and of several (see scriptOf). */
  private readonly scripts: Map<string, { one: RedisScript; many: RedisScript }>;

  private constructor(
    readonly kind: StoreKind,
    readonly client: RedisClient,
    /** Bounds every script call and ping, Cluster redirections and retries included. */
    private readonly callTimeoutMs: number,
  ) {
    // Both variants report under the algorithm's one name.
    const script = (algorithm: Algorithm<any>, many: boolean) => new RedisScript(client, `fg_${algorithm.name}`, scriptOf(algorithm, many));
    this.scripts = new Map(Object.values(ALGORITHM_IMPLS).map((a) => [a.name, { one: script(a, false), many: script(a, true) }]));
    this.coalescer = new Coalescer(
      (algorithm, keys, decisions, many) => this.bounded(this.scripts.get(algorithm.name)![many ? 'many' : 'one'].run<number[]>(keys, [decisions])),
      MAX_DECISIONS_PER_SCRIPT,
      (send) => inOneWrite(client, send),
      // Only a Cluster moves slots.
      client instanceof Cluster ? (key) => this.bounded(client.exists(key)).then((n) => n === 1) : undefined,
    );
  }

  /** False while ioredis has no usable connection (connecting, reconnecting, closed). */
  get connected(): boolean {
    return this.client.status === 'ready';
  }

  /** Connects and waits until Redis answers; throws when it does not within the connect timeout. */
  static async connect(options: RedisConnectionOptions): Promise<RedisStore> {
    const client = createRedisClient(options);
    // Connection errors surface through failed commands; without a listener ioredis would log them itself.
    client.on('error', () => {});
    const store = new RedisStore(options.target.kind, client, options.commandTimeoutMs);
    try {
      // Cluster's connect() keeps retrying on its own; start-up gives up after the connect timeout.
      await withDeadline(client.connect(), options.connectTimeoutMs, () => new Error(`no answer within ${options.connectTimeoutMs} ms`));
      await client.ping();
      // A Cluster connects to each master on its first command; commands issued meanwhile can
      // leave out of order (a user's writes reordered), so every master is connected first. A
      // master that does not answer is not a reason to refuse to start: the cluster says so.
      if (client instanceof Cluster) await Promise.allSettled(client.nodes('master').map((node) => node.ping()));
      // Not a reason to refuse to start either: a script Redis lacks is sent whole on its first call.
      await Promise.allSettled([...store.scripts.values()].flatMap(({ one, many }) => [one.load(), many.load()]));
    } catch (err) {
      client.disconnect();
      throw new Error(`cannot reach Redis at ${describeTarget(options.target)}: ${(err as Error).message}`);
    }
    return store;
  }

  limit(calls: readonly LimitCall[], now: number, sink: OutcomeSink): void {
    this.coalescer.decideEach(calls, now, new FirstError(sink));
  }

  /** Each key's outcome, or the UNAVAILABLE error of its script call. */
  limitEach(calls: readonly LimitCall[], now: number, sink: SettledSink): void {
    this.coalescer.decideEach(calls, now, sink);
  }

  /** On a Cluster a node can answer PING while the cluster refuses commands, so it asks for the cluster state. */
  async ping(): Promise<number> {
    const started = performance.now();
    try {
      if (this.client instanceof Cluster) {
        const info = await this.bounded(this.client.cluster('INFO'));
        if (!/^cluster_state:ok/m.test(info)) throw new Error('cluster state is not ok');
      } else {
        await this.bounded(this.client.ping());
      }
    } catch (err) {
      throw storeError(err);
    }
    return performance.now() - started;
  }

  /**
   * A call to Redis within the call timeout, failing as the one store error (storeError). One
   * timer per script call, not per decision. ioredis's command timeout covers a command on its
   * connection; this also covers a Cluster's redirections and retries while a node is down.
   */
  private bounded<T>(p: Promise<T>): Promise<T> {
    return withDeadline(p, this.callTimeoutMs, () => FloodgateError.unavailable(`store did not answer within ${this.callTimeoutMs} ms`)).catch((err: unknown) => {
      throw storeError(err);
    });
  }

  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

/** The outcomes, or the first error among them. */
class FirstError implements SettledSink {
  constructor(private readonly sink: OutcomeSink) {}

  done(settled: Settled[]): void {
    const err = settled.find((s) => s instanceof Error);
    if (err) this.sink.failed(err);
    else this.sink.done(settled as StoreOutcome[]);
  }
}

/** Any failure talking to Redis, as the one error type: UNAVAILABLE. */
export function storeError(err: unknown): FloodgateError {
  if (err instanceof FloodgateError) return err;
  const message = (err as Error).message;
  return FloodgateError.unavailable(`store unavailable: ${CLIENT_WORDING.find(([said]) => said.test(message))?.[1] ?? message}`);
}

/** ioredis's wording of its own states, which means nothing to a caller, in plain words. */
const CLIENT_WORDING: ReadonlyArray<[RegExp, string]> = [
  [/^Stream isn't writeable and enableOfflineQueue options is false/, 'not connected to Redis'],
  [/^Connection is closed\.?$/, 'the connection to Redis closed'],
  [/^Command timed out$/, 'Redis did not answer in time (REDIS_COMMAND_TIMEOUT_MS)'],
];
