/**
 * `npm run bench:client [ROUNDS] [RATE]`: what an app pays on its side for calling Floodgate
 * through the SDK at a steady rate, with and without installHttp2GcFixes(): a child process
 * (sdk-paced-client.ts) under V8's GC trace makes CheckLimit calls at RATE (default 3,000/s) for
 * 12 s against a Floodgate with Redis deciding every call; the two variants alternate over ROUNDS
 * (default 2). Prints what each promoted to the old generation, its full collections and GC
 * pauses, its CPU per call and its p50/p99.
 */
import { RedisServer } from '../test/support/redis-server.js';
import { ServerProcess } from '../test/support/server-process.js';
import { exec } from './exec.js';
import { positiveArg } from './args.js';
import { summarizeTraceGc } from './trace-gc.js';

const ROUNDS = positiveArg(2, 'bench:client rounds', 2);
const RATE = positiveArg(3, 'bench:client calls per second', 3_000);
const DURATION_S = 12;
const CLIENT = new URL('sdk-paced-client.ts', import.meta.url).pathname;

interface ClientRun {
  calls: number;
  failures: number;
  p50Ms: number;
  p99Ms: number;
  cpuUsPerCall: number;
  fixes?: { sessionsWithTables: number; transportsWithCallSets: number };
}

/** One run of the client, as a row of the table. */
async function clientRun(address: string, round: number, fixes: boolean): Promise<string> {
  const env = { FLOODGATE_ADDRESS: address, RATE: String(RATE), DURATION_S: String(DURATION_S), FIXES: fixes ? '1' : '0' };
  const out = await exec(process.execPath, ['--trace-gc-nvp', '--import', 'tsx', CLIENT], '', env);
  const last = out.trim().split('\n').at(-1) ?? '';
  const run = JSON.parse(last) as ClientRun;
  if (run.failures > 0) throw new Error(`${run.failures} of ${run.calls} calls failed`);
  if (fixes && !(run.fixes && run.fixes.sessionsWithTables > 0 && run.fixes.transportsWithCallSets > 0)) {
    throw new Error(`the fixes did not reach the client's session and transport: ${JSON.stringify(run.fixes)}`);
  }
  const gc = summarizeTraceGc(out);
  return `| ${round} | ${fixes ? 'installed' : 'not installed'} | ${run.calls} | ${(gc.promotedBytes / 1e6).toFixed(0)} MB | ${gc.fullCollections} | ${gc.pauseMs.toFixed(0)} ms | ${run.cpuUsPerCall.toFixed(0)} | ${run.p50Ms.toFixed(2)} | ${run.p99Ms.toFixed(2)} |`;
}

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  const server = await ServerProcess.start({ REDIS_URL: redis.url, DENY_CACHE_MS: '0' });
  try {
    process.stdout.write(
      `SDK client, CheckLimit at ${RATE} calls/s for ${DURATION_S} s per run, Redis deciding every call\n\n` +
        '| Round | installHttp2GcFixes() | calls | promoted | full collections | GC pauses | client CPU µs/call | p50 ms | p99 ms |\n' +
        `|${' --- |'.repeat(2)}${' ---: |'.repeat(7)}\n`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const fixes of [false, true]) process.stdout.write(`${await clientRun(server.address, round, fixes)}\n`);
    }
  } finally {
    await server.stop();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:client failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
