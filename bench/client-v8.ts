/**
 * `npm run bench:client-v8 [ROUNDS] [RATE]`: what each V8 option the SDK's README recommends to
 * apps that check at high rates (SDK_CLIENT_NODE_ARGS) does to such an app over CheckLimitStream.
 * Each run is a fresh SDK client process (sdk-client.ts) under V8's GC trace, paced at RATE
 * checks/s (default 70,000, about half of one client's maximum) for 10 s after 1 s at that rate
 * unmeasured, against a Floodgate started for it (as an app and its sidecar start together; Redis
 * decides every check). Alternated over ROUNDS rounds (default 8): V8's defaults, the
 * recommended options with each one left out, all of them, and all of them set by the client
 * itself (`v8.setFlagsFromString`) before its first check. Prints, per run, what the client
 * promoted, its full collections and GC pauses, its CPU per check and its p50/p99.
 *
 * `--no-allocation-site-pretenuring`: a process whose first second is a burst of checks answered
 * slowly (its code and the server's not yet optimized) holds many checks at once, and V8 can then
 * mark the sites that allocate each check's objects (answers, promises, decisions) as long-lived
 * and allocate them in the old generation from then on; the process then promotes several times
 * as much and runs full collections every second or two for as long as it lives.
 * `--no-parallel-scavenge`: young-generation collections on the main thread alone, which on a
 * machine whose cores the app shares need not wait for helper threads held off the CPU.
 */
import { RedisServer } from '../test/support/redis-server.js';
import { ServerProcess } from '../test/support/server-process.js';
import { positiveArg } from './args.js';
import { clientGcCells, SDK_CLIENT_NODE_ARGS, sdkLoad } from './sdk-load.js';

const ROUNDS = positiveArg(2, 'bench:client-v8 rounds', 8);
const RATE = positiveArg(3, 'bench:client-v8 checks per second', 70_000);
const DURATION_S = 10;

interface Variant {
  name: string;
  nodeArgs: string[];
  v8Flags?: string;
}

const ALL = SDK_CLIENT_NODE_ARGS.join(' ');
const VARIANTS: Variant[] = [
  { name: "V8's defaults", nodeArgs: [] },
  ...SDK_CLIENT_NODE_ARGS.map((left): Variant => ({ name: `without ${left}`, nodeArgs: SDK_CLIENT_NODE_ARGS.filter((o) => o !== left) })),
  { name: ALL, nodeArgs: [...SDK_CLIENT_NODE_ARGS] },
  { name: `v8.setFlagsFromString('${ALL}') at start-up`, nodeArgs: [], v8Flags: ALL },
];

async function main(): Promise<void> {
  const redis = await RedisServer.start();
  try {
    process.stdout.write(
      `SDK client over CheckLimitStream, ${RATE} checks/s for ${DURATION_S} s per run (after 1 s unmeasured), Redis deciding every check\n\n` +
        '| Round | client V8 options | promoted | full collections | GC pauses | client CPU µs/check | p50 ms | p99 ms |\n' +
        `|${' --- |'.repeat(2)}${' ---: |'.repeat(6)}\n`,
    );
    for (let round = 1; round <= ROUNDS; round++) {
      for (const [i, variant] of VARIANTS.entries()) process.stdout.write(`${await clientRun(redis.url, round, i, variant)}\n`);
    }
  } finally {
    await redis.stop();
  }
}

/** One run, on a server of its own started just before the client: one server process at a time. */
async function clientRun(redisUrl: string, round: number, i: number, { name, nodeArgs, v8Flags }: Variant): Promise<string> {
  const server = await ServerProcess.start({ REDIS_URL: redisUrl, DENY_CACHE_MS: '0' });
  try {
    const run = await sdkLoad({ address: server.address, transport: 'stream', load: { rate: RATE, durationS: DURATION_S }, traceGc: true, nodeArgs, v8Flags, userId: `bench-client-v8-${round}-${i}` });
    return `| ${round} | ${name} | ${clientGcCells(run, 2)} |`;
  } finally {
    await server.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:client-v8 failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
});
