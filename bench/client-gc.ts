/**
 * `npm run bench:client [ROUNDS] [RATE]`: what an app pays on its side for checking with Floodgate
 * through the SDK at a steady rate: a CheckLimit call per check without and with
 * installHttp2GcFixes(), and the checks over CheckLimitStream (the SDK's default). A child process
 * (sdk-client.ts) under V8's GC trace makes checks at RATE (default 3,000/s) for 12 s against a
 * Floodgate with Redis deciding every check; the variants alternate over ROUNDS (default 2).
 * Prints what each promoted to the old generation, its full collections and GC pauses, its CPU
 * per check and its p50/p99.
 */
import { RedisServer } from '../test/support/redis-server.js';
import { ServerProcess } from '../test/support/server-process.js';
import type { CheckTransport } from '@floodgate/client';
import { positiveArg } from './args.js';
import { clientGcCells, sdkLoad } from './sdk-load.js';

const ROUNDS = positiveArg(2, 'bench:client rounds', 2);
const RATE = positiveArg(3, 'bench:client calls per second', 3_000);
const DURATION_S = 12;

const VARIANTS: Array<{ transport: CheckTransport; fixes: boolean }> = [
  { transport: 'unary', fixes: false },
  { transport: 'unary', fixes: true },
  { transport: 'stream', fixes: false },
];

/** One run of the client, as a row of the table. */
async function clientRun(address: string, round: number, { transport, fixes }: (typeof VARIANTS)[number]): Promise<string> {
  // V8's defaults, as in an app that has not been tuned: what the fixes change is measured alone.
  const run = await sdkLoad({ address, transport, fixes, load: { rate: RATE, durationS: DURATION_S }, traceGc: true, nodeArgs: [] });
  const cells = clientGcCells(run, 0);
  if (fixes && !(run.fixes && run.fixes.sessionsWithTables > 0 && run.fixes.transportsWithCallSets > 0)) {
    throw new Error(`the fixes did not reach the client's session and transport: ${JSON.stringify(run.fixes)}`);
  }
  const how = transport === 'stream' ? 'CheckLimitStream' : `CheckLimit calls, installHttp2GcFixes() ${fixes ? 'installed' : 'not installed'}`;
  return `| ${round} | ${how} | ${run.done + run.failed} | ${cells} |`;
}

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  const server = await ServerProcess.start({ REDIS_URL: redis.url, DENY_CACHE_MS: '0' });
  try {
    process.stdout.write(
      `SDK client, ${RATE} checks/s for ${DURATION_S} s per run, Redis deciding every check\n\n` +
        '| Round | checks by | checks | promoted | full collections | GC pauses | client CPU µs/check | p50 ms | p99 ms |\n' +
        `|${' --- |'.repeat(2)}${' ---: |'.repeat(7)}\n`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const variant of VARIANTS) process.stdout.write(`${await clientRun(server.address, round, variant)}\n`);
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
