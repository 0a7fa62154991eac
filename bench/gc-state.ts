/**
 * `npm run bench:gc`: how often a bare `node:http2` server is in the garbage collection state
 * that sets the paced p99 (see docs/benchmarks.md), with responses that end in trailers (as gRPC
 * responses do) and without, with Node's per-session stream Map and Set and with Floodgate's
 * stream tables in their place, with grpc-js's response options as they are and with the
 * `endStream` Floodgate gives them; then Floodgate itself, CheckLimit with Redis deciding every
 * call, with HTTP2_STREAM_TABLES and HTTP2_COMPLETE_RESPONSE_OPTIONS on and each off. Each variant runs in its own process under
 * `--trace-gc-nvp`, paced by 10 h2load processes whose connections live for the whole run or a
 * third of it; the variants alternate over the rounds. `npm run bench:gc -- 3` runs 3 rounds,
 * `npm run bench:gc -- 1 16000` one round at 16,000 calls/s instead of 6,500.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisServer } from '../test/support/redis-server.js';
import { FLOODGATE, SERVER_NODE_OPTIONS, ServerProcess, type Program } from '../test/support/server-process.js';
import { positiveArg } from './args.js';
import { checkLimitBody, healthCheckBody } from './grpc-body.js';
import { h2loadSpread, type H2loadResult } from './h2load.js';
import { processCpuMs } from './process-cpu.js';
import { percentiles } from './stats.js';
import { summarizeTraceGc, type ScavengeSummary } from './trace-gc.js';

/** The bare server under V8's GC trace, whose lines land in its logs. */
const BARE_SERVER: Program = {
  main: new URL('http2-bare-server.ts', import.meta.url).pathname,
  ready: 'listening',
  nodeArgs: ['--trace-gc-nvp', '--import', 'tsx'],
};
const ROUNDS = positiveArg(2, 'bench:gc rounds', 2);
const RATE = positiveArg(3, 'bench:gc calls per second', 6_500);
const DURATION_S = 12;

/** Connections live for `connectionS` seconds: the loaders are restarted that often. */
interface Variant {
  trailers: boolean;
  connectionS: number;
  streamTables: boolean;
  /** With trailers: the response options with `endStream` (as Floodgate gives grpc-js's). */
  completeOptions?: boolean;
}

const VARIANTS: Variant[] = [
  { trailers: true, connectionS: DURATION_S, streamTables: false },
  { trailers: true, connectionS: DURATION_S, streamTables: true },
  { trailers: true, connectionS: DURATION_S, streamTables: true, completeOptions: true },
  { trailers: false, connectionS: DURATION_S, streamTables: false },
  { trailers: false, connectionS: DURATION_S, streamTables: true },
  { trailers: true, connectionS: DURATION_S / 3, streamTables: false },
  { trailers: false, connectionS: DURATION_S / 3, streamTables: false },
];
/** Floodgate's two HTTP/2 workarounds: both on (the default), and each off. */
const FLOODGATE_VARIANTS = [
  { streamTables: true, completeOptions: true },
  { streamTables: true, completeOptions: false },
  { streamTables: false, completeOptions: true },
];

/** Floodgate under the same trace; its calls are CheckLimit, decided by Redis every time. */
const TRACED_FLOODGATE: Program = { ...FLOODGATE, nodeArgs: [...SERVER_NODE_OPTIONS, '--trace-gc-nvp'] };
const CHECK_LIMIT = { path: '/floodgate.v1.RateLimitService/CheckLimit', body: checkLimitBody({ policy: 'general', userId: 'gc-user' }) };
const HEALTH_CHECK = { path: '/grpc.health.v1.Health/Check', body: healthCheckBody() };

interface Traced extends ScavengeSummary {
  calls: number;
  cpuUsPerCall: number;
  p99Ms: number;
}

/** Paced calls to a server started under the GC trace, its loaders restarted every `connectionS`. */
async function traced(program: Program, env: Record<string, string>, call: { path: string; body: Buffer }, connectionS: number, workDir: string): Promise<Traced> {
  const server = await ServerProcess.start(env, 15_000, program);
  const bodyFile = join(workDir, 'body.bin');
  writeFileSync(bodyFile, call.body);
  const startAt = server.logs.length;
  const cpuBefore = processCpuMs(server.proc.pid!);
  const loads: H2loadResult[] = [];
  for (let s = 0; s < DURATION_S; s += connectionS) {
    const load = await h2loadSpread({ url: `http://${server.address}${call.path}`, bodyFile, ratePerS: RATE, durationS: connectionS, processes: 10, workDir });
    if (load.failed > 0) throw new Error(`${load.failed} calls failed`);
    loads.push(load);
  }
  const cpuMs = processCpuMs(server.proc.pid!) - cpuBefore;
  await server.stop();
  const calls = loads.reduce((sum, l) => sum + l.done, 0);
  return {
    ...summarizeTraceGc(server.logs.slice(startAt).join('\n')),
    calls,
    cpuUsPerCall: (cpuMs * 1000) / calls,
    p99Ms: percentiles(loads.flatMap((l) => l.latenciesMs)).p99Ms,
  };
}

const row = (cells: Array<string | number>): string => `| ${cells.join(' | ')} |\n`;
const gcCells = (r: Traced): Array<string | number> => [
  r.calls,
  r.scavenges,
  `${r.bad} (${(r.scavenges ? (100 * r.bad) / r.scavenges : 0).toFixed(0)}%)`,
  `${(r.promotedBytes / 1e6).toFixed(0)} MB`,
  r.fullCollections,
  `${r.longestFullMs.toFixed(0)} ms`,
  `${r.externalStringsMs.toFixed(0)} / ${r.evacuateMs.toFixed(0)} ms`,
  `${r.pauseMs.toFixed(0)} ms`,
  r.cpuUsPerCall.toFixed(0),
  r.p99Ms.toFixed(1),
];
const GC_HEADER = 'calls | scavenges | in the bad state | promoted | full collections | longest full pause | full pauses: header strings / evacuation | GC pauses | server CPU µs/call | p99 ms';

async function main(): Promise<void> {
  const workDir = mkdtempSync(join(tmpdir(), 'fg-gc-'));
  const redis = await RedisServer.start();
  try {
    process.stdout.write(
      `${RATE} calls/s for ${DURATION_S} s per run, 10 h2load processes\n\nA bare node:http2 server:\n\n| Round | Response ends with | Connections live | Streams kept in | ${GC_HEADER} |\n|${' --- |'.repeat(4)}${' ---: |'.repeat(10)}\n`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const v of VARIANTS) {
        const env = { TRAILERS: v.trailers ? '1' : '0', STREAM_TABLES: v.streamTables ? '1' : '0', COMPLETE_OPTIONS: v.completeOptions ? '1' : '0' };
        const r = await traced(BARE_SERVER, env, HEALTH_CHECK, v.connectionS, workDir);
        const ending = !v.trailers ? 'the message (status in HEADERS)' : v.completeOptions ? 'trailers, options with endStream' : "trailers, grpc-js's options";
        process.stdout.write(row([round, ending, `${v.connectionS} s`, v.streamTables ? 'stream tables' : "Node's Map and Set", ...gcCells(r)]));
      }
    }
    process.stdout.write(
      `\nFloodgate, CheckLimit decided by Redis every call (DENY_CACHE_MS=0), connections live ${DURATION_S} s:\n\n| Round | HTTP2_STREAM_TABLES | HTTP2_COMPLETE_RESPONSE_OPTIONS | ${GC_HEADER} |\n|${' --- |'.repeat(3)}${' ---: |'.repeat(10)}\n`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const v of FLOODGATE_VARIANTS) {
        const env = { REDIS_URL: redis.url, DENY_CACHE_MS: '0', LOG_LEVEL: 'info', HTTP2_STREAM_TABLES: String(v.streamTables), HTTP2_COMPLETE_RESPONSE_OPTIONS: String(v.completeOptions) };
        const r = await traced(TRACED_FLOODGATE, env, CHECK_LIMIT, DURATION_S, workDir);
        process.stdout.write(row([round, String(v.streamTables), String(v.completeOptions), ...gcCells(r)]));
      }
    }
  } finally {
    await redis.stop();
    rmSync(workDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:gc failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
