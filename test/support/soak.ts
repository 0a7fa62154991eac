import { createClient, FloodgateError, type FloodgateClient } from '@floodgate/client';
import { status } from '@grpc/grpc-js';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { RedisServer } from './redis-server.js';
import { ServerProcess } from './server-process.js';

export interface SoakOptions {
  durationMs: number;
  sampleEveryMs: number;
  /** Concurrent callers. */
  workers: number;
  /** Size of the user and IP populations the load draws from. */
  users: number;
  ips: number;
}

export interface SoakSample {
  atMs: number;
  calls: number;
  /** Server heap after a full GC, and resident set size, in MiB. */
  heapMb: number;
  rssMb: number;
  redisKeys: number;
}

export interface SoakResult {
  samples: SoakSample[];
  calls: number;
  /** Calls that failed with anything but the INVALID_ARGUMENT / NOT_FOUND the bad requests ask for. */
  unexpectedErrors: string[];
  /**
   * The most keys the population can hold: every policy for every user and IP, the user's
   * tracking record, session and day, and a few global tracking indexes.
   */
  keyBound: number;
}

const POLICIES = ['general', 'ai', 'pronunciation', 'tts', 'image'];
/** Record, session and day keys (two days when a run crosses UTC midnight). */
const TRACKING_KEYS_PER_USER = 4;
/** User and top indexes, hourly and daily concurrency, daily counters: a handful. */
const GLOBAL_TRACKING_KEYS = 16;
const HEAP_REPORTER = fileURLToPath(new URL('./heap-reporter.mjs', import.meta.url));

/**
 * Mixed load on a real server process and its own Redis: checks with user and IP (some recording
 * activity), tracking writes, batches, status reads, dry runs and bad requests, sampling the
 * server's heap and Redis' key count.
 */
export async function soak(o: SoakOptions): Promise<SoakResult> {
  const redis = await RedisServer.start();
  const server = await ServerProcess.start({
    REDIS_URL: redis.url,
    NODE_OPTIONS: `--expose-gc --import=${HEAP_REPORTER}`,
    HEAP_REPORT_MS: String(Math.min(o.sampleEveryMs, 1_000)),
  });
  const client = createClient({ address: server.address, deadlineMs: 5_000 });
  const admin = new Redis(redis.url);
  const unexpectedErrors: string[] = [];
  let calls = 0;
  const pick = (n: number) => Math.floor(Math.random() * n);
  const user = () => `user-${pick(o.users)}`;
  const ip = () => {
    const i = pick(o.ips);
    return `198.51.${i >> 8}.${i & 255}`;
  };
  const oneCall = (c: FloodgateClient): Promise<unknown> => {
    const r = Math.random();
    const policy = POLICIES[pick(POLICIES.length)]!;
    if (r < 0.5) return c.checkLimit({ policy, userId: user(), ip: ip() });
    if (r < 0.6) return c.checkLimit({ policy, userId: user(), ip: ip(), recordActivity: `${policy}_request` });
    if (r < 0.7) return c.recordActivity({ userId: user(), activity: 'login', ip: ip() });
    if (r < 0.8) return c.checkLimits({ checks: Array.from({ length: 10 }, () => ({ policy, userId: user() })) });
    if (r < 0.9) return c.getLimitStatus({ userId: user(), ip: ip() });
    if (r < 0.95) return c.checkLimit({ policy, userId: user(), dryRun: true });
    return r < 0.975 ? c.checkLimit({ policy: 'no-such-policy', userId: user() }) : c.checkLimit({ policy, ip: '300.1.1.1' });
  };

  const samples: SoakSample[] = [];
  const started = Date.now();
  let running = true;
  const sampler = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, o.sampleEveryMs));
      const heap = lastHeapReport(server.logs);
      samples.push({ atMs: Date.now() - started, calls, heapMb: heap.heapUsed / 2 ** 20, rssMb: heap.rss / 2 ** 20, redisKeys: await admin.dbsize() });
    }
  })();
  try {
    await Promise.all(
      Array.from({ length: o.workers }, async () => {
        while (Date.now() - started < o.durationMs) {
          await oneCall(client).catch((err: unknown) => {
            const e = FloodgateError.from(err);
            if (e.code !== status.INVALID_ARGUMENT && e.code !== status.NOT_FOUND && unexpectedErrors.length < 20) unexpectedErrors.push(e.message);
          });
          calls++;
        }
      }),
    );
    running = false;
    await sampler;
    return { samples, calls, unexpectedErrors, keyBound: (o.users + o.ips) * POLICIES.length + o.users * TRACKING_KEYS_PER_USER + GLOBAL_TRACKING_KEYS };
  } finally {
    running = false;
    client.close();
    admin.disconnect();
    await server.stop();
    await redis.stop();
  }
}

function lastHeapReport(logs: readonly string[]): { heapUsed: number; rss: number } {
  for (let i = logs.length - 1; i >= 0; i--) {
    if (logs[i]!.startsWith('{"heapReport"')) return (JSON.parse(logs[i]!) as { heapReport: { heapUsed: number; rss: number } }).heapReport;
  }
  throw new Error('the server wrote no heap report');
}
