/**
 * `npm run bench:v8 [-- rounds [candidate options...]]`: what each of the V8 options the image
 * runs the server with (SERVER_NODE_OPTIONS) does, alternated over ROUNDS rounds on a fresh
 * server each: V8's default, the image's options with one of them left out, and the image's;
 * with candidate options after the rounds, the image's with them added too (an option being
 * considered for the image, measured the same way). Each server starts
 * under a flood (CheckLimits with 512 batches in flight, as a replica started during a spike,
 * and as the full bench's warm-ups do), then is measured at 32 streams: CheckLimits (50 users)
 * and CheckLimit by h2load with Redis deciding every check, then CheckLimitStream from one SDK
 * client; throughput, server CPU per decision and the server's peak resident memory.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RedisServer } from '../test/support/redis-server.js';
import { FLOODGATE, SERVER_NODE_OPTIONS, ServerProcess } from '../test/support/server-process.js';
import { positiveArg } from './args.js';
import { checkLimitBody, checkLimitsBody } from './grpc-body.js';
import { h2load } from './h2load.js';
import { processCpuMs } from './process-cpu.js';
import { sdkLoad } from './sdk-load.js';

const ROUNDS = positiveArg(2, 'rounds', 2);
const BATCH = 50;

const settings: Array<[string, string[]]> = [
  ["V8's default", []],
  ...SERVER_NODE_OPTIONS.map((left): [string, string[]] => [`the image's without ${left}`, SERVER_NODE_OPTIONS.filter((o) => o !== left)]),
  [`the image's (${SERVER_NODE_OPTIONS.join(' ')})`, [...SERVER_NODE_OPTIONS]],
  ...candidates().map((option): [string, string[]] => [`the image's with ${option}`, [...SERVER_NODE_OPTIONS, option]]),
];

/** The command line's words after the rounds: V8 options, each to be tried on top of the image's. */
function candidates(): string[] {
  const options = process.argv.slice(3);
  const bad = options.find((o) => !/^--[a-z0-9-]+(=\S+)?$/.test(o));
  if (bad !== undefined) throw new Error(`candidate V8 options: expected --name or --name=value, got "${bad}"`);
  return options;
}

const peakMb = (pid: number) => Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;

async function measure(redisUrl: string, nodeArgs: string[], workDir: string, keys: string): Promise<string> {
  const batch = join(workDir, 'batch');
  const single = join(workDir, 'single');
  writeFileSync(batch, checkLimitsBody(BATCH, 'general', `bench-batch-${keys}-`));
  writeFileSync(single, checkLimitBody({ policy: 'general', userId: `bench-user-${keys}` }));
  const server = await ServerProcess.start({ REDIS_URL: redisUrl, DENY_CACHE_MS: '0' }, 15_000, { ...FLOODGATE, nodeArgs });
  try {
    const url = (method: string) => `http://${server.address}/floodgate.v1.RateLimitService/${method}`;
    const pid = server.proc.pid!;
    await h2load({ url: url('CheckLimits'), bodyFile: batch, clients: 4, streams: 128, requests: 2_048, workDir });
    const cells: string[] = [];
    for (const [method, body, calls, perCall] of [['CheckLimits', batch, 15_000, BATCH], ['CheckLimit', single, 150_000, 1]] as const) {
      const cpuBefore = processCpuMs(pid);
      const r = await h2load({ url: url(method), bodyFile: body, clients: 4, streams: 32, requests: calls, workDir });
      const cpuUs = ((processCpuMs(pid) - cpuBefore) * 1000) / (calls * perCall);
      cells.push(`${Math.round(r.callsPerS * perCall)}`, cpuUs.toFixed(1));
    }
    const stream = await sdkLoad({ address: server.address, transport: 'stream', load: { total: 300_000, window: 256 }, userId: `bench-stream-${keys}` });
    cells.push(`${Math.round(stream.callsPerS)}`, `${Math.round(peakMb(pid))}`);
    return cells.join(' | ');
  } finally {
    await server.stop();
  }
}

const workDir = mkdtempSync(join(tmpdir(), 'fg-v8-'));
const redis = await RedisServer.start();
try {
  const lines = [
    '| V8 options | CheckLimits decisions/s | server µs per decision | CheckLimit calls/s | server µs per call | CheckLimitStream checks/s | server peak RSS MB |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (let round = 1; round <= ROUNDS; round++) {
    for (const [i, [name, nodeArgs]] of settings.entries()) {
      // Keys of each server's own: every one starts on fresh keys.
      const row = await measure(redis.url, nodeArgs, workDir, `${round}.${i}`);
      process.stderr.write(`round ${round}, ${name}: ${row}\n`);
      lines.push(`| ${name}, round ${round} | ${row} |`);
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
} finally {
  await redis.stop();
  rmSync(workDir, { recursive: true, force: true });
}
