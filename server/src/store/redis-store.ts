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

  /**
   * Connects and waits until Redis answers, trying again (ioredis's retryStrategy) until the
   * connect timeout: a process started before its Redis waits for it instead of exiting. Errors
   * retrying cannot fix (a refused password, a database the server lacks) throw at once, as a
   * StoreStartError saying which.
   */
  static async connect(options: RedisConnectionOptions & { onRetry?: (reason: string) => void }): Promise<RedisStore> {
    const client = createRedisClient(options);
    // Connection errors surface through failed commands; without a listener ioredis would log them itself.
    client.on('error', () => {});
    const store = new RedisStore(options.target.kind, client, options.commandTimeoutMs);
    try {
      await untilReady(client, options.connectTimeoutMs, options.onRetry);
      // ioredis sends the URL's SELECT itself but only emits its failure, staying on database 0.
      const db = options.target.kind === 'single' ? options.target.db : undefined;
      if (db !== undefined) await client.select(db).catch((err: Error) => Promise.reject(new StoreStartError('db', `cannot select database ${db}: ${err.message}`)));
      await client.ping();
      // A Cluster connects to each master on its first command; commands issued meanwhile can
      // leave out of order (a user's writes reordered), so every master is connected first. A
      // master that does not answer is not a reason to refuse to start: the cluster says so.
      if (client instanceof Cluster) await Promise.allSettled(client.nodes('master').map((node) => node.ping()));
      // Not a reason to refuse to start either: a script Redis lacks is sent whole on its first call.
      await Promise.allSettled([...store.scripts.values()].flatMap(({ one, many }) => [one.load(), many.load()]));
    } catch (err) {
      client.disconnect();
      const problem = err instanceof StoreStartError ? err.problem : 'unreachable';
      throw new StoreStartError(problem, `cannot ${problem === 'unreachable' ? 'reach' : 'use'} Redis at ${describeTarget(options.target)}: ${(err as Error).message}`);
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

/** Why start-up could not use Redis: `auth` and `db` are configuration, which retrying cannot fix. */
export class StoreStartError extends Error {
  constructor(
    readonly problem: 'unreachable' | 'auth' | 'db',
    message: string,
  ) {
    super(message);
    this.name = 'StoreStartError';
  }
}

const AUTH_ERROR = /NOAUTH|WRONGPASS|invalid password|invalid username-password/i;
const DB_ERROR = /DB index is out of range|invalid DB index/i;

/**
 * Resolves at the client's first 'ready'. ioredis reconnects by itself after a failed attempt
 * (retryStrategy), reporting each as an 'error' event, which is passed to `onRetry`; one that
 * retrying cannot fix rejects at once, and so does the timeout, with the last reason.
 */
function untilReady(client: RedisClient, timeoutMs: number, onRetry: ((reason: string) => void) | undefined): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let last: string | undefined;
    const done = (err?: Error) => {
      clearTimeout(timer);
      client.off('error', onError);
      client.off('ready', onReady);
      if (err) reject(err);
      else resolve();
    };
    const onError = (err: Error) => {
      if (AUTH_ERROR.test(err.message)) return done(new StoreStartError('auth', err.message));
      if (DB_ERROR.test(err.message)) return done(new StoreStartError('db', err.message));
      last = err.message || String(err);
      onRetry?.(last);
    };
    const onReady = () => done();
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs} ms${last ? ` (last error: ${last})` : ''}`)), timeoutMs);
    client.on('error', onError);
    client.once('ready', onReady);
    // A failed first attempt rejects this too, and is reported as an 'error' event as well.
    client.connect().catch(() => {});
  });
}
