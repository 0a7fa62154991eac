import { reasonToJSON, type Reason } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FailureMode } from '../policy/policy.js';
import type { DecisionObserver, DenyCacheSource, FallbackObserver, InFlightSource, OutageSource, PolicyReloadSource, RedisObserver, RpcObserver } from './observers.js';

/** Seconds, 0.1 ms to 2.5 s: a Redis round trip on loopback is well under 1 ms, a deadline about 1 s. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

function latency<L extends string>(registry: Registry, name: string, help: string, labelNames: readonly L[], collect?: (this: Histogram<L>) => void): Histogram<L> {
  return new Histogram({ name, help, labelNames, buckets: LATENCY_BUCKETS, registers: [registry], ...(collect ? { collect } : {}) });
}

/** One label set's latencies: a count per bucket (not cumulative), their sum and count. */
class Observations {
  readonly counts: number[] = LATENCY_BUCKETS.map(() => 0);
  sum = 0;
  count = 0;

  constructor(readonly labels: Record<string, string>) {}

  observe(seconds: number): void {
    this.sum += seconds;
    this.count++;
    for (let i = 0; i < LATENCY_BUCKETS.length; i++) {
      if (seconds <= LATENCY_BUCKETS[i]!) {
        this.counts[i]!++;
        return;
      }
    }
  }
}

/**
 * A latency histogram counted here and handed to prom-client when it is scraped. prom-client's
 * observe validates and hashes the labels and keys the buckets by number on every call (about
 * 280 ns and 190 bytes, a tenth of a streamed check's CPU); counting costs 25 ns and nothing
 * allocated. At scrape time, prom-client's collect hook fills its table, in the shape its
 * exposition reads, from the counts (the metrics tests read the exposition).
 */
class CountedHistogram<L extends string> {
  private readonly sets = new Map<string, Observations>();

  constructor(registry: Registry, name: string, help: string, labelNames: readonly L[]) {
    const sets = this.sets;
    latency(registry, name, help, labelNames, function collect() {
      const table: Record<string, { labels: Record<string, string>; bucketValues: Record<number, number>; sum: number; count: number }> = {};
      for (const [key, o] of sets) {
        const bucketValues: Record<number, number> = {};
        LATENCY_BUCKETS.forEach((bound, i) => (bucketValues[bound] = o.counts[i]!));
        table[key] = { labels: o.labels, bucketValues, sum: o.sum, count: o.count };
      }
      (this as unknown as { hashMap: typeof table }).hashMap = table;
    });
  }

  /** The observations of one label set (the same object for the same labels). */
  child(labels: Record<L, string>): Observations {
    const key = JSON.stringify(labels);
    let o = this.sets.get(key);
    if (!o) this.sets.set(key, (o = new Observations(labels)));
    return o;
  }
}

/**
 * The labelled children of one metric, made once per pair of keys: a labels object per call
 * (prom-client validates and hashes it) is most of what metrics cost on the hot path. The pairs
 * are few (policies × results, methods × codes, commands); past `max` of them, which only
 * unknown method paths from a hostile client could reach, a child is made per call and not kept.
 */
export class ChildCache<C> {
  private readonly children = new Map<string, Map<string | number, C>>();
  private size = 0;

  constructor(
    private readonly make: (a: string, b: string | number) => C,
    private readonly max = 1_000,
  ) {}

  /** Every child kept. */
  *values(): IterableIterator<C> {
    for (const inner of this.children.values()) yield* inner.values();
  }

  get(a: string, b: string | number): C {
    let inner = this.children.get(a);
    const cached = inner?.get(b);
    if (cached !== undefined) return cached;
    const child = this.make(a, b);
    if (this.size >= this.max) return child;
    if (!inner) this.children.set(a, (inner = new Map()));
    inner.set(b, child);
    this.size++;
    return child;
  }
}

/** `result` label of a decision: REASON_OVER_LIMIT → over_limit. */
function resultLabel(reason: Reason): string {
  return reasonToJSON(reason).replace(/^REASON_/, '').toLowerCase();
}

/**
 * What every process with the admin gateway exports: its HTTP requests and the process itself.
 * A standalone gateway exports only these. Names, labels and meaning: docs/metrics.md.
 */
export class GatewayMetrics {
  readonly registry = new Registry();

  private readonly httpDuration = latency(this.registry, 'floodgate_http_request_duration_seconds', 'Admin gateway HTTP latency by method, route and status', ['method', 'route', 'status']);

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'floodgate_' });
  }

  http(method: string, route: string, status: number, seconds: number): void {
    this.httpDuration.observe({ method, route, status: String(status) }, seconds);
  }

  /** Prometheus text exposition and its content type. */
  async expose(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** A Floodgate server's metrics: the gateway's plus decisions, RPCs, Redis and outage state. */
export class Metrics extends GatewayMetrics implements DecisionObserver, RpcObserver, RedisObserver, FallbackObserver {
  /**
   * Decisions are the one metric counted per check (a batch of 50 counts 50): they are counted
   * here per label set, keyed by policy and reason × 2 + allowed, and handed to prom-client at
   * scrape time, so a decision allocates nothing. The policies bound the label sets; none is dropped.
   */
  private readonly decisionCounts = new ChildCache(
    (policy, key) => ({
      labels: { policy, result: resultLabel((key as number) >> 1), allowed: String(((key as number) & 1) === 1) },
      count: 0,
    }),
    Infinity,
  );

  private readonly decisions = new Counter({
    name: 'floodgate_decisions_total',
    help: 'Rate-limit decisions by policy, reason and whether the request was let through',
    labelNames: ['policy', 'result', 'allowed'] as const,
    registers: [this.registry],
    collect: () => {
      this.decisions.reset();
      for (const { labels, count } of this.decisionCounts.values()) this.decisions.inc(labels, count);
    },
  });

  private readonly rpcDuration = new CountedHistogram(this.registry, 'floodgate_rpc_duration_seconds', 'gRPC call latency by method and status code', ['method', 'code']);

  private readonly redisDuration = new CountedHistogram(this.registry, 'floodgate_redis_command_duration_seconds', 'Redis command and script latency by command', ['command']);

  private readonly redisErrors = new Counter({
    name: 'floodgate_redis_errors_total',
    help: 'Redis commands that failed (error reply, timeout or no connection) by command',
    labelNames: ['command'] as const,
    registers: [this.registry],
  });

  private readonly shedChecks = new Counter({
    name: 'floodgate_checks_shed_total',
    help: 'Checks refused UNAVAILABLE because MAX_CHECKS_IN_FLIGHT were already in flight',
    registers: [this.registry],
  });

  private readonly fallbacks = new Counter({
    name: 'floodgate_fallback_decisions_total',
    help: 'Rate-limit keys decided by their policy failure mode (local, open, closed) because Redis did not answer',
    labelNames: ['failure_mode'] as const,
    registers: [this.registry],
  });

  // Keyed by method path and status code; by command.
  private readonly rpcChildren = new ChildCache((path, code) => this.rpcDuration.child({ method: path.slice(1), code: status[code as number] ?? 'UNKNOWN' }));
  private readonly redisChildren = new ChildCache((command) => this.redisDuration.child({ command }));
  private readonly redisErrorChildren = new ChildCache((command) => this.redisErrors.labels(command));

  // Outage state and policy reloads belong to other parts; they are read at scrape time so the
  // exported value is always the owner's. Until a source is attached they read 0.
  private outage: OutageSource = { degraded: () => false };
  private reloads: PolicyReloadSource = { reloads: 0, reloadFailures: 0 };
  private denyCache: DenyCacheSource = { hits: 0, size: 0 };
  private inFlight: InFlightSource = { checksInFlight: 0 };

  constructor() {
    super();
    const registers = [this.registry];
    const outage = () => this.outage;
    const reloads = () => this.reloads;
    const denyCache = () => this.denyCache;
    const inFlight = () => this.inFlight;
    new Gauge({
      name: 'floodgate_checks_in_flight',
      help: 'Checks taken and not yet answered, over all calls and streams (bounded by MAX_CHECKS_IN_FLIGHT)',
      registers,
      collect() {
        this.set(inFlight().checksInFlight);
      },
    });
    new Gauge({
      name: 'floodgate_degraded',
      help: '1 while the store is unreachable and policies run in their failure mode, else 0',
      registers,
      collect() {
        this.set(outage().degraded() ? 1 : 0);
      },
    });
    new Gauge({
      name: 'floodgate_tracking_buffer_size',
      help: 'Tracking writes held in memory while the store is unreachable',
      registers,
      collect() {
        this.set(outage().trackingBuffer?.size ?? 0);
      },
    });
    new Counter({
      name: 'floodgate_tracking_buffer_dropped_total',
      help: 'Tracking writes dropped because the outage buffer was full',
      registers,
      collect() {
        this.reset();
        this.inc(outage().trackingBuffer?.dropped ?? 0);
      },
    });
    new Counter({
      name: 'floodgate_deny_cache_hits_total',
      help: 'Checks denied from the in-process deny cache, without a Redis call',
      registers,
      collect() {
        this.reset();
        this.inc(denyCache().hits);
      },
    });
    new Gauge({
      name: 'floodgate_deny_cache_keys',
      help: 'Over-limit keys the in-process deny cache holds',
      registers,
      collect() {
        this.set(denyCache().size);
      },
    });
    new Counter({
      name: 'floodgate_policy_reloads_total',
      help: 'Policy file reloads by result (success, failure)',
      labelNames: ['result'] as const,
      registers,
      collect() {
        this.reset();
        this.inc({ result: 'success' }, reloads().reloads);
        this.inc({ result: 'failure' }, reloads().reloadFailures);
      },
    });
  }

  /** Reads the degraded state and the tracking outage buffer from their owners from now on. */
  observeOutage(source: OutageSource): void {
    this.outage = source;
  }

  /** Reads the deny cache's hits and size from now on. */
  observeDenyCache(source: DenyCacheSource): void {
    this.denyCache = source;
  }

  /** Reads the checks in flight from the limiter from now on. */
  observeInFlight(source: InFlightSource): void {
    this.inFlight = source;
  }

  /** Reads the reload counts from the policy source from now on. */
  observePolicyReloads(source: PolicyReloadSource): void {
    this.reloads = source;
  }

  decision(policy: string, reason: Reason, allowed: boolean): void {
    this.decisionCounts.get(policy, reason * 2 + (allowed ? 1 : 0)).count++;
  }

  shed(checks: number): void {
    this.shedChecks.inc(checks);
  }

  rpc(path: string, code: number, seconds: number): void {
    this.rpcChildren.get(path, code).observe(seconds);
  }

  fallback(failureMode: FailureMode, keys: number): void {
    this.fallbacks.inc({ failure_mode: failureMode }, keys);
  }

  redisCommand(command: string, seconds: number, failed: boolean): void {
    this.redisChildren.get(command, '').observe(seconds);
    if (failed) this.redisErrorChildren.get(command, '').inc();
  }
}
