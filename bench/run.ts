/**
 * `npm run bench [-- --quick] [--record] [--cpu-prof]`: starts Redis and a built Floodgate
 * server, drives gRPC load with h2load and prints throughput, p50/p99, CPU per call and ratios
 * against the no-op ceiling measured in the same run. `--alloc` instead measures the bytes the
 * server allocates per call. See docs/benchmarks.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { CheckLimitResponse, CheckLimitsResponse } from '@floodgate/client';
import { Redis } from 'ioredis';
import { RedisServer } from '../test/support/redis-server.js';
import { FLOODGATE, SERVER_NODE_OPTIONS, ServerProcess } from '../test/support/server-process.js';
import { ALLOC_NODE_ARGS, allocationPerCall } from './alloc.js';
import { topSelfTime } from './cpu-profile.js';
import { checkLimitBody, checkLimitsBody, healthCheckBody, healthServingReply, recordActivityBody } from './grpc-body.js';
import { postGrpc } from './grpc-post.js';
import { h2load, h2loadSpread } from './h2load.js';
import { memoryPerUser, type MemoryResult } from './memory.js';
import { pacedLoad } from './paced.js';
import { processCpuMs } from './process-cpu.js';
import { commandCalls, redisCpuMs, redisWorkBetween } from './redis-info.js';
import { formatReport, type Measured, type Row, type Target } from './report.js';
import { rateLimiterFlexible } from './rlflex.js';
import { sdkLoad, type SdkRun } from './sdk-load.js';
import { serverCounters, type ServerCounters } from './server-metrics.js';
import { StaticHttp2Server } from './static-http2-server.js';
import type { LoadResult } from './stats.js';

const args = new Set(process.argv.slice(2));
const QUICK = args.has('--quick');
const RECORD = args.has('--record');
const PROFILE = args.has('--cpu-prof');
const ALLOC = args.has('--alloc');

const MODE = QUICK
  ? { durationS: 3, warmupRequests: 5_000, streams: [32], streamWindows: [1_024], rounds: 1, memoryUsers: 2_000 }
  : { durationS: 5, warmupRequests: 10_000, streams: [8, 32, 128], streamWindows: [256, 1_024, 2_048], rounds: 2, memoryUsers: 10_000 };
const CLIENTS = 4;
/** A batch scenario's warm-up lasts at least this long (seconds), whatever its number of calls. */
const BATCH_WARM_S = 0.5;
/** A paced rate the Node loader sustains on this machine next to the server. */
const LOW_RATE = 2_000;
const SPREAD_PROCESSES = 10;
/** The server's default REDIS_COMMAND_TIMEOUT_MS. */
const REDIS_COMMAND_TIMEOUT_MS = 500;
const BATCH = 50;
const DEFAULT_POLICY_NAMES = ['general', 'ai', 'pronunciation', 'tts', 'image'];
const GRPC_OK = 0;
const GRPC_UNIMPLEMENTED = 12;
const FLOOR_NAME = 'Machine floor: nghttpd (C) answering a static reply';

/**
 * Two server processes of the same build on the same Redis: `redis` with the deny cache off
 * (DENY_CACHE_MS=0), so that Redis decides every call, and `default` as shipped, whose deny cache
 * answers a flood on an over-limit key without Redis.
 */
type ServerRole = 'redis' | 'default';

type Servers = Record<ServerRole, ServerProcess>;

interface Scenario {
  name: string;
  on: ServerRole;
  path: string;
  body: Buffer;
  /** Rate-limit keys each call decides, each in its own hash slot: at most one script call each. */
  keysPerCall?: number;
  /** Decisions per call (checks in the batch). */
  decisionsPerCall: number;
}

const SCENARIOS = {
  ceiling: { name: 'Health/Check (no-op ceiling)', on: 'redis', path: '/grpc.health.v1.Health/Check', body: healthCheckBody(), decisionsPerCall: 0 },
  checkLimit: {
    name: 'CheckLimit (user), Redis decides every call',
    on: 'redis',
    path: '/floodgate.v1.RateLimitService/CheckLimit',
    body: checkLimitBody({ policy: 'general', userId: 'bench-user' }),
    keysPerCall: 1,
    decisionsPerCall: 1,
  },
  checkLimitUserIp: {
    name: 'CheckLimit (user + IP), Redis decides every call',
    on: 'redis',
    path: '/floodgate.v1.RateLimitService/CheckLimit',
    body: checkLimitBody({ policy: 'general', userId: 'bench-user2', ip: '10.9.8.7' }),
    keysPerCall: 2,
    decisionsPerCall: 1,
  },
  checkLimits: {
    name: `CheckLimits (${BATCH} users), Redis decides every check`,
    on: 'redis',
    path: '/floodgate.v1.RateLimitService/CheckLimits',
    body: checkLimitsBody(BATCH, 'general', 'bench-batch-'),
    keysPerCall: BATCH,
    decisionsPerCall: BATCH,
  },
  ceilingDefault: {
    name: 'Health/Check (no-op ceiling) on the server with the deny cache',
    on: 'default',
    path: '/grpc.health.v1.Health/Check',
    body: healthCheckBody(),
    decisionsPerCall: 0,
  },
  checkLimitFlood: {
    name: 'CheckLimit (user), flood with the deny cache (default)',
    on: 'default',
    path: '/floodgate.v1.RateLimitService/CheckLimit',
    body: checkLimitBody({ policy: 'general', userId: 'bench-flood' }),
    keysPerCall: 1,
    decisionsPerCall: 1,
  },
  checkLimitsFlood: {
    name: `CheckLimits (${BATCH} users), flood with the deny cache (default)`,
    on: 'default',
    path: '/floodgate.v1.RateLimitService/CheckLimits',
    body: checkLimitsBody(BATCH, 'general', 'bench-flood-'),
    keysPerCall: BATCH,
    decisionsPerCall: BATCH,
  },
  checkLimitStream: {
    name: "CheckLimit over CheckLimitStream (the SDK's default), Redis decides every check; one SDK client",
    on: 'redis',
    // What expectOk sends: the same check as one CheckLimit call.
    path: '/floodgate.v1.RateLimitService/CheckLimit',
    body: checkLimitBody({ policy: 'general', userId: 'bench-stream' }),
    keysPerCall: 1,
    decisionsPerCall: 1,
  },
  recordActivity: {
    name: 'RecordActivity',
    on: 'default',
    path: '/floodgate.v1.TrackingService/RecordActivity',
    body: recordActivityBody({ userId: 'bench-user', activity: 'ai', ip: '10.9.8.7' }),
    decisionsPerCall: 0,
  },
} satisfies Record<string, Scenario>;

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'fg-bench-'));
  const profileDir = join(workDir, 'profile');
  const redisServer = await RedisServer.start();
  try {
    // Profiles and allocation are taken of the server whose every call goes to Redis.
    const extra = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : ALLOC ? ALLOC_NODE_ARGS : [];
    const program = { ...FLOODGATE, nodeArgs: [...SERVER_NODE_OPTIONS, ...extra] };
    const env = { REDIS_URL: redisServer.url, LOG_LEVEL: 'info' };
    const servers: Servers = {
      redis: await ServerProcess.start({ ...env, DENY_CACHE_MS: '0' }, 15_000, program),
      default: await ServerProcess.start(env, 15_000, FLOODGATE),
    };
    const redis = new Redis(redisServer.url);
    try {
      await (ALLOC ? measureAllocation(servers.redis, redis, workDir) : measure(servers, redis, redisServer.url, workDir));
    } finally {
      redis.disconnect();
      await Promise.all(Object.values(servers).map((s) => s.stop()));
    }
    if (PROFILE) process.stdout.write(`\nserver CPU profile, self time:\n${topSelfTime(profileDir, 30).join('\n')}\n`);
  } finally {
    await redisServer.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

async function measure(servers: Servers, redis: Redis, redisUrl: string, workDir: string): Promise<void> {
  const floor = await StaticHttp2Server.start({ [SCENARIOS.ceiling.path]: healthServingReply() });
  try {
    await measureWith(servers, floor, redis, redisUrl, workDir);
  } finally {
    floor.stop();
  }
}

async function measureWith(servers: Servers, floor: StaticHttp2Server, redis: Redis, redisUrl: string, workDir: string): Promise<void> {
  const machine = describeMachine();
  log(`machine: ${machine.cpu}, ${machine.cores} cores, load ${machine.loadAvg}; mode ${QUICK ? 'quick' : 'full'}`);
  const server = servers.default;

  for (const s of Object.values(SCENARIOS)) if (!s.path.includes('TrackingService')) await expectOk(servers[s.on].address, s);
  const tracking = await postGrpc(server.address, SCENARIOS.recordActivity.path, SCENARIOS.recordActivity.body);
  const trackingReady = tracking.grpcStatus === GRPC_OK;
  if (!trackingReady && tracking.grpcStatus !== GRPC_UNIMPLEMENTED) {
    throw new Error(`RecordActivity answered grpc-status ${tracking.grpcStatus}: ${tracking.grpcMessage}`);
  }

  /**
   * Runs `load` and adds what it cost: Redis script calls, server and Redis CPU, per call.
   * `failed` calls of the load are an error; `notOk` ones (paced runs) are only reported.
   */
  const costed = async (
    s: Scenario,
    calls: number,
    load: () => Promise<LoadResult & { notOk?: number }>,
  ): Promise<Measured> => {
    const on = servers[s.on];
    const pid = on.proc.pid!;
    const [before, redisCpuBefore, serverCpuBefore] = [await countsNow(on, redis), await redisCpuMs(redis), processCpuMs(pid)];
    const result = await load();
    const serverCpuUs = ((processCpuMs(pid) - serverCpuBefore) * 1000) / calls;
    const redisCpuUs = (((await redisCpuMs(redis)) - redisCpuBefore) * 1000) / calls;
    if (result.failed > 0) throw new Error(`${s.name}: ${result.failed} of ${calls} calls failed`);
    // h2load sees only HTTP 200: Redis's own counts show every key was decided there.
    const { scripts, undecided } = await decidedSince(on, redis, before, (calls - (result.notOk ?? 0)) * (s.keysPerCall ?? 0));
    await expectOk(on.address, s);
    const { callsPerS, done, failed, p50Ms, p99Ms } = result;
    return { callsPerS, done, failed, p50Ms, p99Ms, scriptsPerCall: scripts / calls, undecided, serverCpuUs, redisCpuUs };
  };

  const bodyFile = join(workDir, 'body.bin');
  const run = (s: Scenario, streams: number, requests: number) => {
    writeFileSync(bodyFile, s.body);
    return costed(s, requests, () => h2load({ url: `http://${servers[s.on].address}${s.path}`, bodyFile, clients: CLIENTS, streams, requests, workDir }));
  };

  /**
   * Max throughput of several scenarios measured side by side: each is warmed up, then for every
   * streams setting and round they run one after another, so a change in the machine's load hits
   * all of them alike; the best run of each counts.
   */
  const maxThroughput = async (scenarios: Scenario[]): Promise<Measured[]> => {
    const requests: number[] = [];
    const maxStreams = MODE.streams.at(-1)!;
    for (const s of scenarios) {
      // At least a few calls per stream: a batch scenario's warmupRequests / 50 calls would be
      // fewer than the streams in flight, and a cold run's rate sizes the next runs too short.
      const warmCalls = Math.max(CLIENTS * maxStreams * 4, Math.round(MODE.warmupRequests / Math.max(1, s.decisionsPerCall)));
      let warm = await run(s, maxStreams, warmCalls);
      // A batch's few warm-up calls took a fresh server about a tenth of a second, and left its
      // heap's growth (a full collection, scavenges of 10 ms) to the measured run.
      if (s.decisionsPerCall > 1 && warm.done < warm.callsPerS * BATCH_WARM_S) warm = await run(s, maxStreams, Math.round(warm.callsPerS * BATCH_WARM_S));
      requests.push(Math.max(CLIENTS, Math.round(warm.callsPerS * MODE.durationS)));
    }
    const best: Array<Measured | undefined> = scenarios.map(() => undefined);
    for (let round = 0; round < MODE.rounds; round++) {
      for (const streams of MODE.streams) {
        for (const [i, s] of scenarios.entries()) {
          const r = { ...(await run(s, streams, requests[i]!)), streams };
          const degraded = r.undecided ? `; ${r.undecided} keys not decided by Redis or the deny cache (a failure mode, or refused as overloaded): run not counted` : '';
          log(`  ${s.name}: ${CLIENTS} clients × ${streams} streams → ${r.callsPerS.toFixed(0)} calls/s, p99 ${r.p99Ms.toFixed(2)} ms${degraded}`);
          if (!r.undecided && (!best[i] || r.callsPerS > best[i]!.callsPerS)) best[i] = r;
          // Each run about durationS long at the best rate seen: a short run's start and drain
          // (the last calls finishing with few in flight) weigh more and understate the rate.
          requests[i] = Math.max(requests[i]!, Math.round(best[i]?.callsPerS ?? 0) * MODE.durationS);
        }
      }
    }
    const missing = scenarios.filter((_, i) => !best[i]).map((s) => s.name);
    if (missing.length) throw new Error(`no run of ${missing.join(', ')} was decided without a failure mode throughout`);
    return best as Measured[];
  };

  /**
   * Calls at a fixed, evenly spread rate; every reply's grpc-status is checked. Calls that did
   * not answer OK (e.g. UNAVAILABLE when the machine starves the server) are reported, not hidden.
   */
  const paced = async (s: Scenario, ratePerS: number): Promise<{ result: Measured; notOk: string }> => {
    let notOk = '';
    const result = await costed(s, Math.round(ratePerS * MODE.durationS), async () => {
      const r = await pacedLoad({ address: servers[s.on].address, path: s.path, body: s.body, ratePerS, durationS: MODE.durationS, connections: 2 * CLIENTS });
      const failures = r.grpcFailures + r.failed;
      if (failures > 0) notOk = ` (${failures} calls not OK; first: ${r.firstFailure})`;
      log(`  ${s.name} at ${ratePerS}/s: ${r.callsPerS.toFixed(0)} calls/s answered, p99 ${r.p99Ms.toFixed(2)} ms, loader CPU ${r.loaderCpuUs.toFixed(0)} µs/call`);
      return { ...r, failed: 0, notOk: failures };
    });
    if (result.undecided) notOk += ` (${result.undecided} keys not decided by Redis or the deny cache: a failure mode, or refused as overloaded)`;
    if (notOk) log(`  ${s.name}:${notOk}`);
    return { result, notOk };
  };

  /**
   * A fixed rate from several h2load processes. h2load cannot see grpc-status; a call answered
   * within the Redis command timeout cannot have failed on it, so slower calls are reported as
   * possibly UNAVAILABLE (the before/after samples and the script count cover the rest).
   */
  const spread = async (s: Scenario, ratePerS: number): Promise<{ result: Measured; notOk: string }> => {
    const calls = Math.max(1, Math.round(ratePerS / SPREAD_PROCESSES)) * SPREAD_PROCESSES * MODE.durationS;
    writeFileSync(bodyFile, s.body);
    let slow = 0;
    const result = await costed(s, calls, async () => {
      const r = await h2loadSpread({ url: `http://${servers[s.on].address}${s.path}`, bodyFile, ratePerS, durationS: MODE.durationS, processes: SPREAD_PROCESSES, workDir });
      slow = r.latenciesMs.filter((ms) => ms >= REDIS_COMMAND_TIMEOUT_MS).length;
      log(`  ${s.name} at ${ratePerS}/s: ${r.callsPerS.toFixed(0)} calls/s, p99 ${r.p99Ms.toFixed(2)} ms`);
      return r;
    });
    const degraded = result.undecided ? ` (${result.undecided} keys not decided by Redis or the deny cache: a failure mode, or refused as overloaded)` : '';
    return { result, notOk: (slow ? ` (${slow} calls slower than the ${REDIS_COMMAND_TIMEOUT_MS} ms Redis command timeout: may have answered UNAVAILABLE)` : '') + degraded };
  };

  /** The machine floor: nghttpd's static answer at a spread rate, and nghttpd's CPU per call. */
  const floorRun = async (ratePerS: number): Promise<Measured> => {
    writeFileSync(bodyFile, healthCheckBody());
    const cpuBefore = processCpuMs(floor.proc.pid!);
    const r = await h2loadSpread({ url: `http://${floor.address}${SCENARIOS.ceiling.path}`, bodyFile, ratePerS, durationS: MODE.durationS, processes: SPREAD_PROCESSES, workDir });
    if (r.failed > 0) throw new Error(`nghttpd: ${r.failed} calls failed`);
    const serverCpuUs = ((processCpuMs(floor.proc.pid!) - cpuBefore) * 1000) / r.done;
    log(`  nghttpd at ${ratePerS}/s: ${r.callsPerS.toFixed(0)} calls/s, p99 ${r.p99Ms.toFixed(2)} ms`);
    const { callsPerS, done, failed, p50Ms, p99Ms } = r;
    return { callsPerS, done, failed, p50Ms, p99Ms, scriptsPerCall: 0, undecided: 0, serverCpuUs, redisCpuUs: NaN };
  };

  /**
   * A scenario, the no-op and the machine floor at the same spread rate, one after the other,
   * MODE.rounds times; the run with the lowest p99 of each counts, as the best run does for max
   * throughput (a burst of other load on this shared machine can spoil any one run's tail, the
   * no-op's as much).
   */
  const spreadPair = async (s: Scenario, ratePerS: number, noop: Scenario = SCENARIOS.ceiling) => {
    let best: Awaited<ReturnType<typeof spread>> | undefined;
    let bestCeiling: Awaited<ReturnType<typeof spread>> | undefined;
    let bestFloor: Measured | undefined;
    for (let round = 0; round < MODE.rounds; round++) {
      const r = await spread(s, ratePerS);
      if (!best || r.result.p99Ms < best.result.p99Ms) best = r;
      const c = await spread(noop, ratePerS);
      if (!bestCeiling || c.result.p99Ms < bestCeiling.result.p99Ms) bestCeiling = c;
      const f = await floorRun(ratePerS);
      if (!bestFloor || f.p99Ms < bestFloor.p99Ms) bestFloor = f;
    }
    return [best!, bestCeiling!, bestFloor!] as const;
  };

  /** Checks through the SDK over CheckLimitStream, from a child process; its CPU per check is in the row's name. */
  const sdkStream = async (load: SdkRun['load']): Promise<Measured & { clientCpuUs: number; notOk: string }> => {
    const s = SCENARIOS.checkLimitStream;
    const calls = 'rate' in load ? load.rate * load.durationS : load.total;
    let clientCpuUs = NaN;
    let notOk = '';
    const result = await costed(s, calls, async () => {
      const r = await sdkLoad({ address: servers[s.on].address, transport: 'stream', load, userId: 'bench-stream' });
      clientCpuUs = r.cpuUsPerCall;
      const how = 'rate' in load ? `paced at ${load.rate}/s` : `${load.window} in flight`;
      log(`  CheckLimitStream, ${how}: ${r.callsPerS.toFixed(0)} checks/s, p99 ${r.p99Ms.toFixed(2)} ms, client CPU ${r.cpuUsPerCall.toFixed(0)} µs/check${r.failed ? `, ${r.failed} not OK` : ''}`);
      if (!('rate' in load) || r.failed === 0) return r;
      // A paced client that falls behind has checks refused or out of time: reported, as for the
      // Node loader, rather than ending the run (a maximum's run has no such excuse).
      notOk = ` (${r.failed} checks not OK)`;
      return { ...r, failed: 0, notOk: r.failed };
    });
    return { ...result, clientCpuUs, notOk };
  };
  /**
   * The stream's max throughput: like the h2load scenarios', the best run over several numbers of
   * checks in flight. One number is not enough: the more checks in flight, the more each message,
   * script call and turn of the event loop carries, and the throughput keeps growing well past
   * the point where latency does (see docs/benchmarks.md).
   */
  const streamMaxThroughput = async (): Promise<Measured & { clientCpuUs: number; window: number }> => {
    const warm = await sdkStream({ total: MODE.warmupRequests, window: MODE.streamWindows[0]! });
    let total = Math.round(warm.callsPerS * MODE.durationS);
    let kept: (Measured & { clientCpuUs: number; window: number }) | undefined;
    for (let round = 0; round < MODE.rounds; round++) {
      for (const window of MODE.streamWindows) {
        const r = { ...(await sdkStream({ total, window })), window };
        if (!kept || r.callsPerS > kept.callsPerS) kept = r;
        // About durationS long at the best rate seen, as for the h2load scenarios.
        total = Math.max(total, Math.round(kept.callsPerS * MODE.durationS));
      }
    }
    return kept!;
  };

  /** The best of MODE.rounds runs of `run` by `better`, as for the h2load scenarios. */
  const best = async <T>(run: () => Promise<T>, better: (a: T, b: T) => boolean): Promise<T> => {
    let kept = await run();
    for (let round = 1; round < MODE.rounds; round++) {
      const r = await run();
      if (better(r, kept)) kept = r;
    }
    return kept;
  };

  log('measuring max throughput: the no-op ceiling, CheckLimit, CheckLimits side by side');
  const [ceiling, checkLimit, checkLimitUserIp, checkLimits, ceilingDefault, checkLimitFlood, checkLimitsFlood] = await maxThroughput([
    SCENARIOS.ceiling,
    SCENARIOS.checkLimit,
    SCENARIOS.checkLimitUserIp,
    SCENARIOS.checkLimits,
    SCENARIOS.ceilingDefault,
    SCENARIOS.checkLimitFlood,
    SCENARIOS.checkLimitsFlood,
  ]);
  log(`measuring max throughput of CheckLimit over CheckLimitStream (one SDK client, ${MODE.streamWindows.join(', ')} in flight)`);
  await untilRedisDecides(servers.redis.address);
  const streamMax = await streamMaxThroughput();
  await untilRedisDecides(servers.redis.address);
  // Low rate first: an overloaded run leaves the server a grown heap to collect for a while.
  // Left out of the quick run, which must stay under a minute (as the stream's row at that rate).
  if (!QUICK) log(`measuring latency at ${LOW_RATE} calls/s (Node client, every grpc-status checked)`);
  const low = QUICK ? undefined : await paced(SCENARIOS.checkLimit, LOW_RATE);
  const lowCeiling = QUICK ? undefined : await paced(SCENARIOS.ceiling, LOW_RATE);
  // Below half of the maximum, lowest rate first: where the 2 ms p99 holds, by calls and over the stream.
  const eighthRate = Math.round(checkLimit.callsPerS / 8);
  if (!QUICK) log(`measuring latency at ${eighthRate} calls/s, an eighth of CheckLimit's max throughput`);
  const eighth = QUICK ? undefined : await spreadPair(SCENARIOS.checkLimit, eighthRate);
  const halfRate = Math.round(checkLimit.callsPerS / 2);
  log(`measuring latency at ${halfRate} calls/s, half of CheckLimit's max throughput (${SPREAD_PROCESSES} h2load processes)`);
  const [half, halfCeiling, halfFloor] = await spreadPair(SCENARIOS.checkLimit, halfRate);
  const halfFloodRate = Math.round(checkLimitFlood.callsPerS / 2);
  log(`measuring latency at ${halfFloodRate} calls/s, half of the flood's max throughput`);
  const [halfFlood, halfFloodCeiling, halfFloodFloor] = await spreadPair(SCENARIOS.checkLimitFlood, halfFloodRate, SCENARIOS.ceilingDefault);
  const streamLadder: Array<{ share: string; rate: number; run: Awaited<ReturnType<typeof sdkStream>> }> = [];
  for (const [share, part] of QUICK ? [] : ([['an eighth', 8], ['a quarter', 4]] as const)) {
    const rate = Math.round(streamMax.callsPerS / part);
    log(`measuring latency at ${rate} checks/s, ${share} of CheckLimitStream's max throughput`);
    streamLadder.push({ share, rate, run: await best(() => sdkStream({ rate, durationS: MODE.durationS }), (a, b) => a.p99Ms < b.p99Ms) });
  }
  const halfStreamRate = Math.round(streamMax.callsPerS / 2);
  log(`measuring latency at ${halfStreamRate} checks/s, half of CheckLimitStream's max throughput (one SDK client)`);
  const halfStream = await best(() => sdkStream({ rate: halfStreamRate, durationS: MODE.durationS }), (a, b) => a.p99Ms < b.p99Ms);
  const lowStream = QUICK ? undefined : await best(() => sdkStream({ rate: LOW_RATE, durationS: MODE.durationS }), (a, b) => a.p99Ms < b.p99Ms);
  const [recordActivity] = trackingReady ? await maxThroughput([SCENARIOS.recordActivity]) : [];
  log('measuring rate-limiter-flexible in-process');
  const rlflex = await rateLimiterFlexible({ redisUrl, concurrency: CLIENTS * (checkLimit.streams ?? 32), durationS: MODE.durationS, warmupS: 1 });
  await untilRedisDecides(servers.redis.address);
  log(`measuring Redis memory over ${MODE.memoryUsers} users`);
  const memory = await memoryPerUser({ address: server.address, redis, users: MODE.memoryUsers, policies: DEFAULT_POLICY_NAMES, tracking: trackingReady });

  const rows: Row[] = [
    { name: SCENARIOS.ceiling.name, result: ceiling, decisionsPerCall: 0 },
    { name: SCENARIOS.checkLimit.name, result: checkLimit, decisionsPerCall: 1 },
    { name: SCENARIOS.checkLimitUserIp.name, result: checkLimitUserIp, decisionsPerCall: 1 },
    { name: SCENARIOS.checkLimits.name, result: checkLimits, decisionsPerCall: BATCH },
    { name: SCENARIOS.ceilingDefault.name, result: ceilingDefault, decisionsPerCall: 0 },
    { name: SCENARIOS.checkLimitFlood.name, result: checkLimitFlood, decisionsPerCall: 1 },
    { name: SCENARIOS.checkLimitsFlood.name, result: checkLimitsFlood, decisionsPerCall: BATCH },
    ...(eighth
      ? [
          { name: `CheckLimit (user), Redis, paced at ${eighthRate}/s (an eighth of max)${eighth[0].notOk}`, result: eighth[0].result, decisionsPerCall: 1 },
          { name: `Health/Check, paced at ${eighthRate}/s (same rate)${eighth[1].notOk}`, result: eighth[1].result, decisionsPerCall: 0 },
          { name: `${FLOOR_NAME}, paced at ${eighthRate}/s (same rate)`, result: eighth[2], decisionsPerCall: 0 },
        ]
      : [{ name: 'CheckLimit (user), Redis, paced at an eighth of max', result: undefined, decisionsPerCall: 1, pending: 'full run only' }]),
    { name: `CheckLimit (user), Redis, paced at ${halfRate}/s (half of max)${half.notOk}`, result: half.result, decisionsPerCall: 1 },
    { name: `Health/Check, paced at ${halfRate}/s (same rate)${halfCeiling.notOk}`, result: halfCeiling.result, decisionsPerCall: 0 },
    { name: `${FLOOR_NAME}, paced at ${halfRate}/s (same rate)`, result: halfFloor, decisionsPerCall: 0 },
    { name: `CheckLimit (user), flood, paced at ${halfFloodRate}/s (half of max)${halfFlood.notOk}`, result: halfFlood.result, decisionsPerCall: 1 },
    { name: `Health/Check on the same server, paced at ${halfFloodRate}/s (same rate)${halfFloodCeiling.notOk}`, result: halfFloodCeiling.result, decisionsPerCall: 0 },
    { name: `${FLOOR_NAME}, paced at ${halfFloodRate}/s (same rate)`, result: halfFloodFloor, decisionsPerCall: 0 },
    { name: `${SCENARIOS.checkLimitStream.name}, best with ${streamMax.window} checks in flight (client CPU ${streamMax.clientCpuUs.toFixed(0)} µs/check)`, result: streamMax, decisionsPerCall: 1 },
    ...(QUICK ? [{ name: 'CheckLimit over CheckLimitStream, Redis, paced at an eighth and a quarter of its max', result: undefined, decisionsPerCall: 1, pending: 'full run only' }] : []),
    ...streamLadder.map(({ share, rate, run }) => ({
      name: `CheckLimit over CheckLimitStream, Redis, paced at ${rate}/s (${share} of its max) by one SDK client (client CPU ${run.clientCpuUs.toFixed(0)} µs/check)${run.notOk}`,
      result: run,
      decisionsPerCall: 1,
    })),
    {
      name: `CheckLimit over CheckLimitStream, Redis, paced at ${halfStreamRate}/s (half of its max) by one SDK client (client CPU ${halfStream.clientCpuUs.toFixed(0)} µs/check)${halfStream.notOk}`,
      result: halfStream,
      decisionsPerCall: 1,
    },
    {
      name: `CheckLimit over CheckLimitStream, Redis, paced at ${LOW_RATE}/s by one SDK client${lowStream ? ` (client CPU ${lowStream.clientCpuUs.toFixed(0)} µs/check)${lowStream.notOk}` : ''}`,
      result: lowStream,
      decisionsPerCall: 1,
      pending: 'full run only',
    },
    { name: `CheckLimit (user), Redis, paced at ${LOW_RATE}/s by a Node client${low?.notOk ?? ''}`, result: low?.result, decisionsPerCall: 1, pending: 'full run only' },
    { name: `Health/Check, paced at ${LOW_RATE}/s by a Node client${lowCeiling?.notOk ?? ''}`, result: lowCeiling?.result, decisionsPerCall: 0, pending: 'full run only' },
    { name: SCENARIOS.recordActivity.name, result: recordActivity, decisionsPerCall: 0, pending: 'pending: TrackingService answers UNIMPLEMENTED in this build' },
    { name: 'rate-limiter-flexible RateLimiterRedis (in-process)', result: rlflex, decisionsPerCall: 1 },
  ];
  const targets: Target[] = [
    { name: 'CheckLimit throughput ≥ 0.7 × ceiling, Redis decides every call', value: checkLimit.callsPerS / ceiling.callsPerS, goal: 0.7, unit: '×' },
    // Each server process against its own no-op: two processes on a shared machine differ by more than the effect.
    { name: 'CheckLimit throughput ≥ 0.7 × ceiling, flood with the deny cache', value: checkLimitFlood.callsPerS / ceilingDefault.callsPerS, goal: 0.7, unit: '×' },
    { name: 'CheckLimits decisions/s ≥ 10 × CheckLimit, Redis decides every check', value: (checkLimits.callsPerS * BATCH) / checkLimit.callsPerS, goal: 10, unit: '×' },
    {
      name: 'CheckLimits decisions/s ≥ 10 × CheckLimit, flood with the deny cache',
      value: (checkLimitsFlood.callsPerS * BATCH) / checkLimitFlood.callsPerS,
      goal: 10,
      unit: '×',
    },
    { name: 'CheckLimit p99 at half max throughput ≤ 2 ms, Redis decides every call', value: half.result.p99Ms, goal: 2, unit: ' ms', atMost: true },
    { name: 'CheckLimit p99 at half max throughput ≤ 2 ms, flood with the deny cache', value: halfFlood.result.p99Ms, goal: 2, unit: ' ms', atMost: true },
    { name: "CheckLimit throughput ≥ 0.7 × ceiling, over CheckLimitStream (the SDK's default), Redis decides every check", value: streamMax.callsPerS / ceiling.callsPerS, goal: 0.7, unit: '×' },
    { name: "CheckLimit p99 at half max throughput ≤ 2 ms, over CheckLimitStream (the SDK's default), Redis decides every check", value: halfStream.p99Ms, goal: 2, unit: ' ms', atMost: true },
    ...(
      [
        [SCENARIOS.checkLimit, checkLimit],
        [SCENARIOS.checkLimitUserIp, checkLimitUserIp],
        [SCENARIOS.checkLimits, checkLimits],
      ] as const
    ).map(([s, r]) => ({
      name: `Redis script calls per call of ${s.name} ≤ hash slots touched (${s.keysPerCall})`,
      value: r.scriptsPerCall,
      goal: s.keysPerCall,
      unit: '',
      atMost: true,
    })),
  ];
  const perDecisionUs = checkLimits.serverCpuUs / BATCH;
  const notes = [
    `By server CPU per call, which other load on the machine disturbs less than throughput (Redis decides every call): CheckLimit ${checkLimit.serverCpuUs.toFixed(0)} µs, ` +
      `the no-op ${ceiling.serverCpuUs.toFixed(0)} µs → ${(ceiling.serverCpuUs / checkLimit.serverCpuUs).toFixed(2)}× the ceiling's calls per CPU-second; ` +
      `CheckLimits ${perDecisionUs.toFixed(1)} µs per decision → ${(checkLimit.serverCpuUs / perDecisionUs).toFixed(2)}× CheckLimit's decisions per CPU-second; ` +
      `Redis ${(checkLimits.redisCpuUs / BATCH).toFixed(1)} µs per decision. ` +
      `With the deny cache: CheckLimit ${checkLimitFlood.serverCpuUs.toFixed(0)} µs against its server's no-op ${ceilingDefault.serverCpuUs.toFixed(0)} µs → ` +
      `${(ceilingDefault.serverCpuUs / checkLimitFlood.serverCpuUs).toFixed(2)}×; CheckLimits ${(checkLimitsFlood.serverCpuUs / BATCH).toFixed(1)} µs per decision.`,
    ...(eighth
      ? [
          `p99 below half of the maximum: by calls, CheckLimit at an eighth of its max (${eighthRate}/s) ${eighth[0].result.p99Ms.toFixed(2)} ms ` +
            `(the no-op ${eighth[1].result.p99Ms.toFixed(2)} ms, the machine floor ${eighth[2].p99Ms.toFixed(2)} ms); over CheckLimitStream ` +
            `${streamLadder.map(({ share, rate, run }) => `at ${share} of its max (${rate}/s) ${run.p99Ms.toFixed(2)} ms`).join(', ')}, ` +
            `and at half ${halfStream.p99Ms.toFixed(2)} ms.`,
        ]
      : []),
    `Over CheckLimitStream at max throughput: the server ${streamMax.serverCpuUs.toFixed(1)} µs, the SDK client ${streamMax.clientCpuUs.toFixed(1)} µs and Redis ` +
      `${streamMax.redisCpuUs.toFixed(1)} µs per check → ${(ceiling.serverCpuUs / streamMax.serverCpuUs).toFixed(2)}× the no-op's calls per server CPU-second.`,
  ];
  const report = formatReport({ machine, mode: QUICK ? 'quick' : 'full', clients: CLIENTS, rows, targets, notes, memory: memoryLine(memory) });
  process.stdout.write(`\n${report}\n`);
  if (RECORD) {
    mkdirSync(new URL('results', import.meta.url), { recursive: true });
    writeFileSync(new URL('results/latest.md', import.meta.url), `${report}\n`);
    writeFileSync(new URL('results/latest.json', import.meta.url), `${JSON.stringify({ machine, rows, targets, notes, memory }, null, 2)}\n`);
    log('recorded bench/results/latest.md and latest.json');
  }
}

/**
 * Bytes allocated per call in the server (objects already collected included), for the no-op,
 * CheckLimit and CheckLimits, each after a warm-up; like the throughput runs, a run Redis did not
 * decide throughout fails.
 */
async function measureAllocation(server: ServerProcess, redis: Redis, workDir: string): Promise<void> {
  const bodyFile = join(workDir, 'body.bin');
  const lines: string[] = [];
  const scenarios: Scenario[] = [SCENARIOS.ceiling, SCENARIOS.checkLimit, SCENARIOS.checkLimitUserIp, SCENARIOS.checkLimits];
  for (const s of scenarios) {
    await expectOk(server.address, s);
    writeFileSync(bodyFile, s.body);
    // 30,000 calls as in docs/benchmarks.md; 2,000 batches (100,000 decisions).
    const calls = s.decisionsPerCall > 1 ? 2_000 : 30_000;
    const load = (requests: number) => h2load({ url: `http://${server.address}${s.path}`, bodyFile, clients: CLIENTS, streams: 32, requests, workDir });
    await load(Math.round(calls / 3));
    await untilRedisDecides(server.address);
    const before = await countsNow(server, redis);
    const a = await allocationPerCall(server, calls, async () => {
      const r = await load(calls);
      if (r.failed > 0) throw new Error(`${s.name}: ${r.failed} of ${calls} calls failed`);
    });
    const { undecided } = await decidedSince(server, redis, before, calls * (s.keysPerCall ?? 0));
    if (undecided) throw new Error(`${s.name}: ${undecided} keys not decided by Redis or the deny cache (a failure mode, or refused as overloaded)`);
    const kb = (bytes: number) => (bytes / 1024).toFixed(1);
    lines.push(`| ${s.name} | ${calls} | ${kb(a.totalBytes)} KB | ${kb(a.ownBytes)} KB |`);
    log(`  ${s.name}: ${kb(a.totalBytes)} KB per call, ${kb(a.ownBytes)} KB in Floodgate's own code; most by:`);
    for (const [name, bytes] of a.top.slice(0, 15)) log(`    ${Math.round(bytes).toString().padStart(6)} B  ${name}`);
  }
  process.stdout.write(`
| Scenario | calls | allocated per call | in Floodgate's own code |
| --- | ---: | ---: | ---: |
${lines.join('\n')}\n`);
}

interface Counts extends ServerCounters {
  commands: Record<string, number>;
}

async function countsNow(server: ServerProcess, redis: Redis): Promise<Counts> {
  return { commands: await commandCalls(redis), ...(await serverCounters(server.httpUrl)) };
}

/**
 * The script calls since `before`, and how many of the `keys` a run should have had decided were
 * not: fewer decisions in Redis's own counts, plus the server's deny cache hits (one key each in
 * these scenarios), than keys; or keys the server answered by a failure mode (a reply that came
 * too late still counts as a decision in Redis).
 */
async function decidedSince(server: ServerProcess, redis: Redis, before: Counts, keys: number): Promise<{ scripts: number; undecided: number }> {
  const now = await countsNow(server, redis);
  const { scripts, decisions } = redisWorkBetween(before.commands, now.commands);
  const fromCache = now.cacheHits - before.cacheHits;
  return { scripts, undecided: keys === 0 ? 0 : Math.max(keys - decisions - fromCache, now.fallbacks - before.fallbacks) };
}

/** The exact body h2load will send must get grpc-status OK from a real HTTP/2 client. */
async function expectOk(address: string, s: Scenario): Promise<void> {
  const reply = await postGrpc(address, s.path, s.body);
  if (reply.httpStatus !== 200 || reply.grpcStatus !== GRPC_OK) {
    throw new Error(`${s.name}: HTTP ${reply.httpStatus}, grpc-status ${reply.grpcStatus} ${reply.grpcMessage}`);
  }
  if (s.path.endsWith('/CheckLimit') && CheckLimitResponse.decode(reply.message).statuses.length !== s.keysPerCall) {
    throw new Error(`${s.name}: response does not hold one status per key`);
  }
  if (s.path.endsWith('/CheckLimits') && CheckLimitsResponse.decode(reply.message).results.some((r) => !r.response)) {
    throw new Error(`${s.name}: a check in the batch failed`);
  }
}

/** After an overload the server may still decide by its failure modes until its probe finds Redis again. */
async function untilRedisDecides(address: string): Promise<void> {
  const s = SCENARIOS.checkLimit;
  for (let attempt = 0; attempt < 40; attempt++) {
    const reply = await postGrpc(address, s.path, s.body);
    if (reply.grpcStatus === GRPC_OK && !CheckLimitResponse.decode(reply.message).degraded) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('the server still answers degraded 10 s after the load stopped');
}

function memoryLine(m: MemoryResult): string {
  const tracking = m.trackingBytesPerUser === undefined ? '' : `; tracking adds ${m.trackingBytesPerUser} bytes per user when each of them also records one activity`;
  return `${m.bytesPerUser} bytes per user (${m.users} users, each one request under each of the 5 default policies with its own user id and IP: ${m.keysPerUser} keys per user, ${Math.round(m.bytesPerUser / m.keysPerUser)} bytes per key, ${m.encoding} encoding)${tracking}`;
}

function describeMachine() {
  const version = (cmd: string, flag: string) => execFileSync(cmd, [flag], { encoding: 'utf8' }).trim().split('\n')[0]!;
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    loadAvg: loadavg().map((l) => l.toFixed(2)).join(' '),
    node: process.version,
    redis: version('redis-server', '--version').replace(/ sha=.*/, ''),
    h2load: version('h2load', '--version'),
  };
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
